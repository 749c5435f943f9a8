"""Puts real data into a fresh boxoffice for scripts/schemathesis, so that the operations on an
`{id}` reach the code behind the lookup: a venue with a seated section, two published events,
and a customer's bookings (one confirmed, with tickets, one pending). Prints the schemathesis
dictionaries of those ids, in TOML, for the run's configuration.

    python3 schemathesis_data.py BASE_URL ORGANIZER_TOKEN CUSTOMER_TOKEN

Standard library only: it runs with whatever python3 the machine has.
"""

import datetime
import json
import sys
import urllib.request


def call(base, method, path, token, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method=method)
    request.add_header("Authorization", "Bearer " + token)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def time(days):
    moment = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=days)
    return moment.replace(microsecond=0).isoformat().replace("+00:00", "Z")


def main():
    base, organizer, customer = sys.argv[1:4]
    venue = call(base, "POST", "/api/v1/venues", organizer, {
        "name": "Town Hall",
        "city": "Lyon",
        "address": "1 place de la Comédie",
        "sections": [{"name": "Floor", "rows": [{"label": "A", "seats": 20}, {"label": "B", "seats": 20}]}],
    })
    events = []
    for days, seated in [(30, True), (40, False)]:
        categories = [{"name": "Standing", "price_cents": 4500, "currency": "EUR", "capacity": 1000}]
        if seated:
            categories.append({"name": "Floor", "price_cents": 9000, "currency": "EUR", "sections": ["Floor"]})
        event = call(base, "POST", "/api/v1/events", organizer, {
            "name": f"Winter Jazz Night {days}",
            "description": "Three quartets, one night.",
            "venue_id": venue["id"] if seated else None,
            "city": "Lyon",
            "starts_at": time(days),
            "ends_at": time(days + 1),
            "categories": categories,
        })
        events.append(call(base, "POST", f"/api/v1/events/{event['id']}/publish", organizer))
    standing = events[0]["categories"][0]["id"]
    confirmed = call(base, "POST", "/api/v1/bookings", customer,
                     {"event_id": events[0]["id"], "items": [{"category_id": standing, "quantity": 2}]})
    confirmed = call(base, "POST", f"/api/v1/bookings/{confirmed['id']}/confirm", customer,
                     {"payment_token": "tok_ok"})
    pending = call(base, "POST", "/api/v1/bookings", customer,
                   {"event_id": events[0]["id"], "seats": ["Floor/A/1", "Floor/A/2"]})
    page = call(base, "GET", "/api/v1/events?limit=1", organizer)
    dictionaries = {
        "events": [event["id"] for event in events],
        "venues": [venue["id"]],
        "bookings": [confirmed["id"], pending["id"]],
        "tickets": [ticket["id"] for ticket in confirmed["tickets"]],
        "codes": [ticket["code"] for ticket in confirmed["tickets"]],
        "categories": [category["id"] for category in events[0]["categories"]],
        "seats": [f"Floor/{row}/{number}" for row in "AB" for number in range(3, 21)],
        "cursors": [page["next_cursor"]],
    }
    for name, values in dictionaries.items():
        print(f"[dictionaries.{name}]")
        print(f"values = {json.dumps(values)}")
        print()


if __name__ == "__main__":
    main()
