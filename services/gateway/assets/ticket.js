// The ticket page's live QR code: the image of the ticket's rotating code is fetched again at
// each change of step, counted from the server's own "seconds left" (a device's clock may be
// wrong), so the screen always shows a code the door accepts.

const image = document.getElementById("rotating-qr");

if (image) {
  const every = Number(image.dataset.rotatesEvery) || 15;
  const first = Math.max(0, Number(image.dataset.refreshInMs) || 0);
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
      // Refused (the ticket was given away or refunded): the page says what it is now. A network
      // that is away (a door with poor signal) keeps the code shown; the next step tries again.
      fetch(next.src, { method: "HEAD", credentials: "same-origin" })
        .then((response) => {
          if (response.status >= 400 && response.status < 500) window.location.reload();
        })
        .catch(() => {});
    };
    next.src = `${base}?n=${shown}`;
  };

  // A little after each change, so that the server's step has surely moved on; each timer is
  // set from the page's start, so that late timers never add up.
  const start = performance.now();
  const schedule = () => {
    const due = start + first + 300 + shown * every * 1000;
    window.setTimeout(() => {
      refresh();
      schedule();
    }, Math.max(0, due - performance.now()));
  };
  schedule();
}
