"""An administrator's steps on the facility registry pages: upload a disclosure, place its
columns, apply it, read the problems shown."""

import html
import io
import re

from reporter_pages import csrf_token


def upload(client, data: bytes, name="disclosure.csv", token=None):
    page = client.get("/admin/facilities")
    assert page.status_code == 200
    return client.post("/admin/facilities/imports", content_type="multipart/form-data", data={
        "csrf_token": token if token is not None else csrf_token(page),
        "file": (io.BytesIO(data), name),
    })


def column_choices(page_text: str) -> dict[str, str]:
    """{column name in the file: the choice the page has selected ("" none)} of a columns page."""
    choices = {}
    for match in re.finditer(r'<label for="column-(\d+)">(.*?)</label>.*?<select id="column-\1"[^>]*>(.*?)</select>',
                             page_text, re.S):
        selected = re.search(r'<option value="([^"]*)" selected>', match.group(3))
        choices[html.unescape(match.group(2))] = selected.group(1) if selected else ""
    return choices


def place_columns(client, location, placed: dict[str, str]):
    """Post the columns page of the import at ``location``: the page's own choices, with ``placed`` over them."""
    page = client.get(location + "/columns")
    assert page.status_code == 200
    choices = column_choices(page.get_data(as_text=True))
    form = {"csrf_token": csrf_token(page)}
    for index, (name, choice) in enumerate(choices.items()):
        form[f"column-{index}"] = placed.get(name, choice)
    return client.post(location + "/columns", data=form)


def apply(client, location, token=None):
    preview = client.get(location)
    assert preview.status_code == 200
    return client.post(location + "/apply", data={"csrf_token": token if token is not None else csrf_token(preview)})


def problems_shown(response) -> list[str]:
    page = response.get_data(as_text=True)
    return [html.unescape(s) for s in re.findall(r'<tr class="problem"[^>]*><td>[^<]*</td><td>(.*?)</td></tr>', page)]
