// The ticket page's live QR code: the image of the ticket's rotating code is fetched again at
// each change of step, counted from the server's own "seconds left" (a device's clock may be
// wrong), so the screen always shows a code the door accepts.

const image = document.getElementById("rotating-qr");

if (image) {
  const every = Number(image.dataset.rotatesEvery) || 15;
  const first = Math.max(0, Number(image.dataset.refreshIn) || 0);
  const base = image.getAttribute("src");
  let shown = 0;

  const refresh = () => {
    shown += 1;
    const next = new Image();
    next.onload = () => {
      image.src = next.src;
      image.dataset.shown = String(shown);
    };
    next.onerror = () => {
      // The ticket was given away, refunded or admitted: the page says what it is now.
      window.location.reload();
    };
    next.src = `${base}?n=${shown}`;
  };

  // A little after the change, so that the server's step has surely moved on.
  window.setTimeout(() => {
    refresh();
    window.setInterval(refresh, every * 1000);
  }, (first + 0.5) * 1000);
}
