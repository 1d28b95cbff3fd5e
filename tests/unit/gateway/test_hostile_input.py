"""Issue 6 item 3: client input that used to give a 500 (or be stored mangled) is a 400, and nothing is called."""
import json

import pytest

SIGN_UP = b'{"email": "camille@example.org", "password": "Correct-horse-9", "postcode": "69003"}'


def envelope(body: bytes) -> dict:
    return json.loads(body)["error"]


@pytest.mark.parametrize("body", [
    b"[" * 1000 + b"]" * 1000,
    b'{"email": ' + b"[" * 1000 + b"]" * 1000 + b"}",
    b'{"a": ' * 1000 + b"1" + b"}" * 1000,
    # 40 deep in a field the schema would drop: refused by the depth limit itself.
    SIGN_UP[:-1] + b', "extra": ' + b"[" * 40 + b"]" * 40 + b"}",
])
def test_deeply_nested_json_is_a_400_not_a_recursion_error(gateway, body):
    status, headers, answer = gateway.request("POST", "/api/members", body)
    assert status == 400 and headers["content-type"].startswith("application/json")
    assert envelope(answer)["code"] == "validation_error"
    assert not gateway.called("register")


def test_brackets_inside_strings_do_not_count_as_nesting(gateway):
    body = b'{"email": "camille@example.org", "password": "' + b"[" * 100 + b'", "postcode": "69003"}'
    status, _, _ = gateway.request("POST", "/api/members", body)
    assert status == 202 and gateway.called("register")[0].args[0]["password"] == "[" * 100


@pytest.mark.parametrize("method,path,body", [
    ("POST", "/api/members", b'{"email": "camille@example.org", "password": "Correct-horse-9\\ud800", "postcode": "69003"}'),
    ("POST", "/api/members", b'{"email": "camille@example.org", "password": "Correct-horse-9", "postcode": "69003", "themes": ["\\udfff"]}'),
    ("POST", "/api/members", b'{"email": "camille@example.org", "password": "Correct-horse-9", "postcode": "69003", "\\ud800": 1}'),
    ("POST", "/api/sessions", b'{"email": "\\ud800@example.org", "password": "x"}'),
    ("POST", "/api/members/verify", b'{"token": "\\udc00"}'),
    ("POST", "/api/members/password-reset", b'{"email": "a\\ud800@example.org"}'),
    ("POST", "/api/members/password-reset/confirm", b'{"token": "good-token", "password": "Correct-horse-9\\ud800"}'),
])
def test_a_lone_surrogate_anywhere_is_a_400(gateway, method, path, body):
    status, _, answer = gateway.request(method, path, body)
    assert status == 400, answer
    assert envelope(answer)["code"] == "validation_error"
    assert [c.method for c in gateway.calls] == []


def test_a_lone_surrogate_in_a_profile_edit_or_roles_is_a_400(gateway):
    token, _ = gateway.log_in()
    auth = f"Authorization: Bearer {token}\r\n".encode()
    assert gateway.request("PATCH", "/api/members/me", b'{"first_name": "\\ud800"}', extra=auth)[0] == 400
    assert gateway.request("PUT", "/api/members/5b0c2a3e-0000-4000-8000-000000000002/roles", b'{"roles": ["\\ud800"]}', extra=auth)[0] == 400
    assert not gateway.called("update_own_profile") and not gateway.called("set_roles")


def test_a_well_formed_surrogate_pair_is_a_normal_character(gateway):
    token, _ = gateway.log_in()
    auth = f"Authorization: Bearer {token}\r\n".encode()
    status, _, _ = gateway.request("PATCH", "/api/members/me", b'{"first_name": "Cam\\ud83d\\ude00"}', extra=auth)
    assert status == 200 and gateway.called("update_own_profile")[0].args[1] == {"first_name": "Cam\U0001F600"}


def test_invalid_utf8_is_a_400_not_replacement_characters(gateway):
    body = b'{"email": "camille@example.org", "password": "Correct-\xff\xfehorse", "postcode": "69003"}'
    status, _, answer = gateway.request("POST", "/api/members", body)
    assert status == 400 and envelope(answer)["code"] == "validation_error"
    assert not gateway.called("register")


@pytest.mark.parametrize("name", ["Cam\\u0000ille", "Cam\\u0007ille", "Cam\\u001bille", "Cam\\u007fille",
                                  "Cam\\u0085ille", "Cam\\nille", "Cam\\tille", "Cam\\rille"])
def test_control_characters_in_a_name_are_a_400(gateway, name):
    token, _ = gateway.log_in()
    auth = f"Authorization: Bearer {token}\r\n".encode()
    status, _, answer = gateway.request("PATCH", "/api/members/me", f'{{"first_name": "{name}"}}'.encode(), extra=auth)
    assert status == 400 and "first_name" in envelope(answer)["fields"]
    assert not gateway.called("update_own_profile")


def test_line_breaks_and_tabs_are_kept_in_the_bio_but_not_nul(gateway):
    token, _ = gateway.log_in()
    auth = f"Authorization: Bearer {token}\r\n".encode()
    ok = gateway.request("PATCH", "/api/members/me", b'{"bio": "Ligne 1\\r\\nLigne 2\\tfin"}', extra=auth)
    assert ok[0] == 200 and gateway.called("update_own_profile")[0].args[1] == {"bio": "Ligne 1\r\nLigne 2\tfin"}
    assert gateway.request("PATCH", "/api/members/me", b'{"bio": "a\\u0000b"}', extra=auth)[0] == 400


def test_a_chunked_body_is_read_not_taken_for_an_empty_one(gateway):
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (SIGN_UP[:20], SIGN_UP[20:])) + b"0\r\n\r\n"
    status, _, answer = gateway.raw(
        f"POST /api/members HTTP/1.1\r\nHost: {gateway.host}\r\nConnection: close\r\n".encode()
        + b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks)
    assert status == 202, answer
    assert gateway.called("register")[0].args[0]["email"] == "camille@example.org"


def test_a_chunked_body_too_large_is_a_413(gateway):
    part = b"x" * 65536
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for _ in range(5)) + b"0\r\n\r\n"
    status, _, answer = gateway.raw(
        f"POST /api/members HTTP/1.1\r\nHost: {gateway.host}\r\nConnection: close\r\n".encode()
        + b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks)
    assert status == 413 and envelope(answer)["code"]
    assert not gateway.called("register")


def test_a_body_too_large_is_a_413_envelope(gateway):
    status, _, answer = gateway.request("POST", "/api/members", b'{"email": "' + b"x" * 300_000 + b'"}')
    assert status == 413 and envelope(answer)["code"] == "payload_too_large"


def multipart(parts: int) -> tuple[bytes, str]:
    boundary = "umpnetboundary"
    body = b"".join(f'--{boundary}\r\nContent-Disposition: form-data; name="f{i}"\r\n\r\nv\r\n'.encode()
                    for i in range(parts)) + f"--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def test_a_multipart_form_of_1200_parts_is_a_413_page(gateway):
    body, content_type = multipart(1200)
    status, headers, answer = gateway.request("POST", "/connexion", body, content_type=content_type)
    assert status == 413 and headers["content-type"].startswith("text/html")
    assert 'data-testid="error-page"' in answer.decode()
    assert not gateway.called("open_session")


def test_a_site_form_with_invalid_utf8_is_refused_and_nothing_is_called(gateway, browser):
    csrf = browser.csrf("/inscription")
    cookie = "; ".join(f"{k}={v}" for k, v in browser.cookies.items())
    body = f"csrf_token={csrf}&email=camille%40example.org&password=Correct%FFhorse9&postcode=69003".encode()
    status, headers, answer = gateway.request("POST", "/inscription", body, content_type="application/x-www-form-urlencoded",
                                              extra=f"Cookie: {cookie}\r\n".encode())
    assert status == 400 and headers["content-type"].startswith("text/html")
    assert not gateway.called("register")
    raw_bytes = f"csrf_token={csrf}&email=camille%40example.org&postcode=69003&password=".encode() + b"\xff\xfe"
    status, _, _ = gateway.request("POST", "/inscription", raw_bytes, content_type="application/x-www-form-urlencoded",
                                   extra=f"Cookie: {cookie}\r\n".encode())
    assert status == 400 and not gateway.called("register")


def test_a_site_form_with_a_nul_in_a_name_is_refused(gateway, browser):
    browser.post(gateway.url + "/connexion", data={"csrf_token": browser.csrf("/connexion"),
                                                   "email": "camille@example.org", "password": "Correct-horse-9"})
    answer = browser.post(gateway.url + "/profil", data={"csrf_token": browser.csrf("/profil"), "postcode": "69003",
                                                         "first_name": "Cam\x00ille", "bio": "ligne 1\r\nligne 2"})
    assert answer.status_code == 400 and not gateway.called("update_own_profile")
    answer = browser.post(gateway.url + "/profil", data={"csrf_token": browser.csrf("/profil"), "postcode": "69003",
                                                         "first_name": "Camille", "bio": "ligne 1\r\nligne 2"})
    assert answer.status_code == 200
    assert gateway.called("update_own_profile")[0].args[1]["bio"] == "ligne 1\r\nligne 2"


ODD_BODIES = [b"", b"null", b"[]", b"1e999999", b'{"email": 1, "password": [], "postcode": {}}', b'{"roles": "x", "themes": "x"}',
              b'{"token": null, "password": true}', b'{"email": "' + b"a" * 2000 + b'@example.org"}', b"\xef\xbb\xbf{}",
              b'{"first_name": "x", "first_name": "\\u0000"}', b'{"shown_fields": ["email"], "blog_url": "javascript:alert(1)"}']


def test_no_documented_operation_answers_a_5xx_to_odd_bodies(gateway):
    token, _ = gateway.log_in()
    auth = f"Authorization: Bearer {token}\r\n".encode()
    spec = json.loads(gateway.request("GET", "/api/openapi.json", content_type=None)[2])
    for path, operations in spec["paths"].items():
        path = path.replace("{member_id}", "5b0c2a3e-0000-4000-8000-000000000002")
        for verb in operations:
            for body in ODD_BODIES:
                status, headers, answer = gateway.request(verb.upper(), path, body, extra=auth)
                assert status < 500, (verb, path, body, answer)
                if status >= 400:
                    assert json.loads(answer)["error"]["code"], (verb, path, body)
