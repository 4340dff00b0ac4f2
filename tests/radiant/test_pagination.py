"""Every list is cursor-paginated: one envelope, a bounded page_size, positions that hold
while rows are inserted."""

import threading
from urllib.parse import parse_qs, urlsplit

import pytest

from configuration.models import ConfigEntry
from radiant.pagination import MAX_PAGE_SIZE
from tenants.services import api_key_create
from tests.helpers import make_model

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def follow(client, url, limit=100):
    """Every page from ``url`` on, following ``next``; the pages' bodies."""
    pages = []
    while url is not None and len(pages) < limit:
        response = client.get(url)
        assert response.status_code == 200, response.content
        body = response.json()
        assert set(body) == {"results", "next"}
        pages.append(body)
        url = body["next"]
    return pages


def make_rows(kind, tenant, count, start=0):
    """``count`` rows for the ``kind`` list; returns how that list names them."""
    names = []
    for i in range(start, start + count):
        if kind == "api-keys":
            names.append(api_key_create(tenant=tenant, name=f"key-{i:03}")[0].prefix)
        elif kind == "models":
            names.append(make_model(f"model-{i:03}").slug)
        else:
            names.append(ConfigEntry.objects.create(key=f"k.e{i:03}", value_type="integer", value=i).key)
    return names


NAME = {"api-keys": "prefix", "models": "slug", "config": "key"}


@pytest.mark.parametrize("kind", ["api-keys", "models", "config"])
def test_every_list_pages_with_next_and_honours_page_size(kind, tenant, api_client_for):
    client = api_client_for(tenant)
    make_rows(kind, tenant, 7)
    everything = [row[NAME[kind]] for row in client.get(f"/api/v1/{kind}").json()["results"]]

    pages = follow(client, f"/api/v1/{kind}?page_size=3")

    assert [len(page["results"]) for page in pages] == [3, 3, len(everything) - 6]
    assert pages[-1]["next"] is None and all(page["next"] for page in pages[:-1])
    assert pages[0]["next"].startswith("http://testserver/api/v1/")
    assert [row[NAME[kind]] for page in pages for row in page["results"]] == everything


def test_api_keys_are_newest_first(tenant, api_client_for):
    client = api_client_for(tenant)  # the oldest key
    made = make_rows("api-keys", tenant, 4)

    listed = [row["prefix"] for row in client.get("/api/v1/api-keys").json()["results"]]

    assert listed == [*reversed(made), client.api_key.prefix]


def test_default_and_largest_page_size(tenant, api_client_for):
    client = api_client_for(tenant)
    make_rows("config", tenant, 120)

    default = client.get("/api/v1/config").json()
    largest = client.get(f"/api/v1/config?page_size={MAX_PAGE_SIZE}").json()

    assert len(default["results"]) == 50 and default["next"]
    assert len(largest["results"]) == MAX_PAGE_SIZE and largest["next"]


def test_filters_travel_in_next(tenant, api_client_for):
    client = api_client_for(tenant)
    make_rows("models", tenant, 3)
    make_model("embedder", category="embedding")

    pages = follow(client, "/api/v1/models?category=chat&page_size=2")

    assert parse_qs(urlsplit(pages[0]["next"]).query)["category"] == ["chat"]
    assert [m["slug"] for p in pages for m in p["results"]] == ["model-000", "model-001", "model-002"]


@pytest.mark.parametrize("query, field", [
    ("page_size=0", "page_size"), (f"page_size={MAX_PAGE_SIZE + 1}", "page_size"), ("page_size=-1", "page_size"),
    ("page_size=abc", "page_size"), ("page_size=99999999999999999999", "page_size"),
    ("cursor=garbage", "cursor"), ("cursor=" + "x" * 600, "cursor"), ("color=red", "color"),
])
@pytest.mark.parametrize("kind", ["api-keys", "models", "config"])
def test_bad_paging_parameters_are_400_problems(kind, query, field, tenant, api_client_for):
    response = api_client_for(tenant).get(f"/api/v1/{kind}?{query}")

    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "validation_error" and field in response.json()["errors"]


def test_a_cursor_of_another_list_is_refused(tenant, api_client_for):
    client = api_client_for(tenant)
    make_rows("api-keys", tenant, 3)
    next_keys = client.get("/api/v1/api-keys?page_size=1").json()["next"]
    cursor = parse_qs(urlsplit(next_keys).query)["cursor"][0]

    response = client.get("/api/v1/config", {"cursor": cursor})

    assert response.status_code == 400 and "cursor" in response.json()["errors"]


def test_rows_inserted_while_paging_never_repeat_or_hide_a_row(tenant, api_client_for):
    """By slug: new rows land before and after the position reached; every row that existed
    throughout is seen exactly once, and so is every new row after the position."""
    client = api_client_for(tenant)
    for slug in ("b-10", "b-20", "b-30", "b-40", "b-50", "b-60"):
        make_model(slug)

    first = client.get("/api/v1/models?page_size=2").json()
    assert [m["slug"] for m in first["results"]] == ["b-10", "b-20"]
    for slug in ("a-00", "b-15", "b-25", "b-55", "c-00"):  # before, at and after the cursor
        make_model(slug)
    rest = follow(client, first["next"])

    seen = [m["slug"] for m in first["results"]] + [m["slug"] for page in rest for m in page["results"]]
    assert sorted(seen) == sorted(set(seen))  # nothing twice
    assert seen == ["b-10", "b-20", "b-25", "b-30", "b-40", "b-50", "b-55", "b-60", "c-00"]


@pytest.mark.postgres
def test_paging_keys_while_another_connection_keeps_inserting(tenant, api_client_for):
    """Newest first, a writer thread adding keys all the while: each key that existed before
    paging started is seen exactly once, and no key twice."""
    client = api_client_for(tenant)
    existing = set(make_rows("api-keys", tenant, 12)) | {client.api_key.prefix}
    stop, inserted, started = threading.Event(), [], threading.Event()

    def writer():
        from django.db import connection

        try:
            while not stop.is_set():
                inserted.append(api_key_create(tenant=tenant, name="while-paging")[0].prefix)
                started.set()
        finally:
            connection.close()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert started.wait(10)
        pages = follow(client, "/api/v1/api-keys?page_size=2")
    finally:
        stop.set()
        thread.join(10)

    seen = [row["prefix"] for page in pages for row in page["results"]]
    assert len(seen) == len(set(seen))
    assert existing <= set(seen) and len([p for p in seen if p in existing]) == len(existing)
    assert inserted  # the writer really ran alongside
