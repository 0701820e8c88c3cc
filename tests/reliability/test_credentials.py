"""Credentials and base URLs as people really paste them: a Windows `.env`, `echo` into a
secret, a typographic quote, a URL copied from the docs with its query string.

Surrounding whitespace is trimmed with a logged note naming the variable; a character no header
can carry is refused before any request with a message naming the variable and never the value
(nor any part of it); a base URL with a query, fragment, user:password or API version is
refused. Every path goes through the client constructors: the connectors, `promosync sync`,
`promosync push` and `promosync status`.
"""

from __future__ import annotations

import logging
import re

import pytest
from promosync.connectors.http import ApiClient, ApiError, ConfigError
from promosync.connectors.talon_one.client import talon_one_client
from promosync.connectors.voucherify.client import voucherify_client
from promosync.pipelines.cli import app
from typer.testing import CliRunner

HEAD, TAIL = "Kq7Zx-HEAD-31f8", "TAIL-9c2d-Wm4"  # the halves of every bad key: neither may show
VARIABLES = ("VOUCHERIFY_APP_ID", "VOUCHERIFY_APP_TOKEN", "TALON_ONE_API_KEY",
             "TALON_ONE_MANAGEMENT_KEY")  # fmt: skip
AGAIN = "copy the key again from the platform's settings and set {variable} to exactly that"
CONTROL = "holds a control or invisible character (a line break, tab, NUL or soft hyphen)"
LATIN_1 = "holds a character outside Latin-1 (a typographic quote or a look-alike letter?)"
SPACE = "holds a space inside it"
REFUSED = {
    "a CR inside": (f"{HEAD}\r{TAIL}", CONTROL),
    "a LF inside (two lines pasted)": (f"{HEAD}\n{TAIL}", CONTROL),
    "a tab inside": (f"{HEAD}\t{TAIL}", CONTROL),
    "a NUL at the end": (f"{HEAD}{TAIL}\x00", CONTROL),
    "a DEL inside": (f"{HEAD}\x7f{TAIL}", CONTROL),
    "a C1 control (NEL) inside": (f"{HEAD}\x85{TAIL}", CONTROL),
    "a soft hyphen inside (copied from a web page)": (f"{HEAD}\xad{TAIL}", CONTROL),
    "a zero-width space inside": (f"{HEAD}\u200b{TAIL}", CONTROL),
    "a byte-order mark first (a .env saved as UTF-8 with BOM)": (f"\ufeff{HEAD}{TAIL}", CONTROL),
    "a typographic quote": (f"{HEAD}\u2019{TAIL}", LATIN_1),
    "a Cyrillic look-alike letter": (f"{HEAD}\u0430{TAIL}", LATIN_1),
    "an emoji": (f"{HEAD}\U0001f511{TAIL}", LATIN_1),
    "a space inside": (f"{HEAD} {TAIL}", SPACE),
    "a no-break space inside": (f"{HEAD}\xa0{TAIL}", SPACE),
}
TRIMMED = {
    "a Windows line end (CRLF)": "{key}\r\n",
    "a line end (LF, from echo)": "{key}\n",
    "spaces around it": "  {key}  ",
    "a tab after it": "{key}\t",
    "a no-break space after it": "{key}\xa0",
}


def _clients(variable: str, value: str, sandbox) -> object:
    """The client of `variable`'s platform, with `value` in its place and the sandbox's others."""
    keys = {
        "VOUCHERIFY_APP_ID": sandbox.settings.voucherify_app_id,
        "VOUCHERIFY_APP_TOKEN": sandbox.settings.voucherify_app_token,
        "TALON_ONE_API_KEY": sandbox.settings.talon_one_api_key,
        "TALON_ONE_MANAGEMENT_KEY": sandbox.settings.talon_one_management_key,
    } | {variable: value}
    if variable.startswith("VOUCHERIFY"):
        return voucherify_client(
            sandbox.voucherify_url, keys["VOUCHERIFY_APP_ID"], keys["VOUCHERIFY_APP_TOKEN"]
        )
    return talon_one_client(
        sandbox.talon_one_url, keys["TALON_ONE_API_KEY"], keys["TALON_ONE_MANAGEMENT_KEY"],
        management_per_second=None,
    )  # fmt: skip


def assert_no_part_of(value: str, *texts: str) -> None:
    """Neither half of a bad key, nor `value` (if given), in any of `texts`."""
    for text in texts:
        assert HEAD not in text and TAIL not in text
        assert not value or value not in text


@pytest.fixture
def requests_seen(sandbox, voucherify_admin, talon_one_admin):
    """Requests both simulators have received so far."""

    def count() -> int:
        stats = [admin.get("/_sandbox/stats").json() for admin in (voucherify_admin,
                                                                   talon_one_admin)]  # fmt: skip
        return sum(each["total"] for each in stats)

    return count


@pytest.mark.parametrize("variable", VARIABLES)
@pytest.mark.parametrize(("value", "problem"), REFUSED.values(), ids=REFUSED.keys())
def test_unusable_key_is_refused_naming_the_variable_never_the_value(
    sandbox, requests_seen, caplog, variable: str, value: str, problem: str
) -> None:
    before = requests_seen()
    with pytest.raises(ConfigError) as raised:
        _clients(variable, value, sandbox)
    assert str(raised.value) == f"{variable} {problem}; {AGAIN.format(variable=variable)}"
    assert requests_seen() == before  # refused before any request
    assert_no_part_of(value, str(raised.value), repr(vars(raised.value)), caplog.text)


@pytest.mark.parametrize("variable", VARIABLES)
@pytest.mark.parametrize("padding", TRIMMED.values(), ids=TRIMMED.keys())
def test_whitespace_around_a_key_is_trimmed_with_a_note_and_the_key_works(
    sandbox, caplog, variable: str, padding: str
) -> None:
    settings = sandbox.settings
    real = dict(zip(VARIABLES, (settings.voucherify_app_id, settings.voucherify_app_token,
                                settings.talon_one_api_key, settings.talon_one_management_key),
                    strict=True))  # fmt: skip
    caplog.set_level(logging.WARNING, logger="promosync.connectors.secrets")
    clients = _clients(variable, padding.format(key=real[variable]), sandbox)
    if variable.startswith("VOUCHERIFY"):
        assert clients.get_json("/v1/customers", {"limit": 1})["object"] == "list"
    elif variable == "TALON_ONE_API_KEY":  # accepted: the answer is about the profile, a 404
        with pytest.raises(ApiError, match="HTTP 404"):
            clients.integration.get_json("/v1/customer_profiles/nobody/inventory")
    else:
        assert "data" in clients.management.get_json("/v1/loyalty_programs")
    assert caplog.messages == [
        f"{variable} has whitespace or a line break around it (a Windows .env file, or `echo`"
        f" into a secret?); it was trimmed. Remove it where {variable} is set to silence this"
        " note."
    ]
    assert real[variable] not in caplog.text


def test_a_key_of_whitespace_alone_is_a_missing_key(sandbox) -> None:
    with pytest.raises(ConfigError, match=r"^set VOUCHERIFY_APP_ID and VOUCHERIFY_APP_TOKEN "):
        voucherify_client(sandbox.voucherify_url, "\r\n", "token")
    with pytest.raises(ConfigError, match=r"^set TALON_ONE_API_KEY "):
        talon_one_client(sandbox.talon_one_url, "  \t")


def test_a_latin_1_key_is_sent_and_a_refusal_does_not_echo_it(sandbox) -> None:
    """Latin-1 can travel in a header: the platform decides (here: 401), the key stays hidden."""
    key = f"{HEAD}\xe9{TAIL}"
    client = voucherify_client(sandbox.voucherify_url, sandbox.settings.voucherify_app_id, key)
    with pytest.raises(ApiError, match=r"HTTP 401: .*check VOUCHERIFY_APP_ID and") as raised:
        client.get_json("/v1/customers")
    assert_no_part_of(key, str(raised.value))


def test_a_header_value_a_client_is_given_directly_is_checked_too() -> None:
    """ApiClient refuses such a header itself (http.client would quote it in its error)."""
    with pytest.raises(ConfigError) as raised:
        ApiClient("voucherify", "http://127.0.0.1:9", {"X-App-Token": f"{HEAD}\r\n{TAIL}"},
                  credentials_name="VOUCHERIFY_APP_TOKEN")  # fmt: skip
    assert str(raised.value) == f"VOUCHERIFY_APP_TOKEN: a header value {CONTROL}"
    assert_no_part_of("", str(raised.value))


# --- through the commands a user runs --------------------------------------------------------


def _env(sandbox, tmp_path, **changes: str) -> dict[str, str]:
    """The sandbox's keys, a DuckDB file and a DAGSTER_HOME (the event log is scanned) in tmp."""
    settings = sandbox.settings
    (tmp_path / "dagster").mkdir(exist_ok=True)
    return {
        "VOUCHERIFY_BASE_URL": sandbox.voucherify_url,
        "VOUCHERIFY_APP_ID": settings.voucherify_app_id,
        "VOUCHERIFY_APP_TOKEN": settings.voucherify_app_token,
        "TALON_ONE_BASE_URL": sandbox.talon_one_url,
        "TALON_ONE_API_KEY": settings.talon_one_api_key,
        "TALON_ONE_MANAGEMENT_KEY": settings.talon_one_management_key,
        "WAREHOUSE_URL": f"duckdb:///{tmp_path / 'cli.duckdb'}",
        "DAGSTER_HOME": str(tmp_path / "dagster"),
        "COLUMNS": "2000",
        **changes,
    }


def promosync(env: dict[str, str], *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env=env)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, " ".join(result.output.split())


def _metadata_file(tmp_path) -> str:
    upload = tmp_path / "metadata.csv"
    upload.write_text('source_id,metadata\nm-1,"{""a"": 1}"\n', encoding="utf-8")
    return str(upload)


def _profiles_file(tmp_path) -> str:
    upload = tmp_path / "profiles.csv"
    upload.write_text("integration_id,tier\ntp-1,gold\n", encoding="utf-8")
    return str(upload)


COMMANDS = {
    "sync, token with a CR inside": (
        "VOUCHERIFY_APP_TOKEN", f"{HEAD}\r{TAIL}", CONTROL, ("sync", "--only", "voucherify"),
        "sync failed: ",
    ),
    "push metadata, token with a typographic quote": (
        "VOUCHERIFY_APP_TOKEN", f"{HEAD}\u2019{TAIL}", LATIN_1, ("push", "metadata", "--file"),
        "push failed: ",
    ),
    "push talon-profiles, API key with a LF inside": (
        "TALON_ONE_API_KEY", f"{HEAD}\n{TAIL}", CONTROL, ("push", "talon-profiles", "--file"),
        "push failed: ",
    ),
    "sync talon_one, Management key with a zero-width space": (
        "TALON_ONE_MANAGEMENT_KEY", f"{HEAD}\u200b{TAIL}", CONTROL,
        ("sync", "--only", "talon_one_loyalty_programs"), "sync failed: ",
    ),
}  # fmt: skip


@pytest.mark.parametrize(
    ("variable", "value", "problem", "args", "prefix"), COMMANDS.values(), ids=COMMANDS.keys()
)
def test_commands_refuse_an_unusable_key_before_any_request_and_store_nothing(
    sandbox, requests_seen, tmp_path, variable, value, problem, args, prefix
) -> None:
    if args[-1] == "--file":
        args = (*args, _metadata_file(tmp_path) if "metadata" in args else _profiles_file(tmp_path))
    before = requests_seen()
    code, output = promosync(_env(sandbox, tmp_path, **{variable: value}), *args)
    assert code == 1, output
    assert f"{prefix}{variable} {problem}; {AGAIN.format(variable=variable)}" in output
    assert requests_seen() == before
    assert_no_part_of(value, output)
    stored = [p for p in tmp_path.rglob("*") if p.is_file()]
    if args[0] == "sync":  # the run and its event log are in DAGSTER_HOME: scanned too
        assert any(p.suffix == ".db" for p in stored)
    assert_no_part_of(value, *(p.read_bytes().decode("utf-8", "replace") for p in stored))


def test_status_fails_on_an_unusable_key_and_names_it(sandbox, tmp_path) -> None:
    """`status` reads the API's total with the key: a key no sync can use needs attention."""
    env = _env(sandbox, tmp_path)
    assert promosync(env, "sync", "--only", "voucherify_customers")[0] == 0
    code, output = promosync({**env, "VOUCHERIFY_APP_TOKEN": f"{HEAD}\r\n{TAIL}"}, "status")
    assert code == 1
    assert (
        "FAIL credentials: voucherify_customers: the configured credentials cannot be used:"
        f" VOUCHERIFY_APP_TOKEN {CONTROL}"
    ) in output
    assert_no_part_of("", output)


def test_a_sync_with_a_windows_line_end_on_every_key_just_works(sandbox, tmp_path) -> None:
    padded = {name: value + "\r\n" for name, value in _env(sandbox, tmp_path).items()
              if name in VARIABLES or name.endswith("_BASE_URL")}  # fmt: skip
    code, output = promosync({**_env(sandbox, tmp_path), **padded}, "sync", "--only", "voucherify")
    assert code == 0, output
    assert re.search(r"voucherify_customers +300 ", output), output


# --- base URLs --------------------------------------------------------------------------------

V_EXAMPLE = "give the API's root, e.g. https://api.voucherify.io"
T_EXAMPLE = "give the API's root, e.g. https://yourcompany.europe-west1.talon.one"
URLS = {
    "a query string": ("https://api.voucherify.io?region=eu", "'https://api.voucherify.io?region=eu'"
                       f" has a query string; remove it (each request adds its own): {V_EXAMPLE}"),
    "an empty query string": ("https://api.voucherify.io/?", "'https://api.voucherify.io/?' has a"
                              f" query string; remove it (each request adds its own): {V_EXAMPLE}"),
    "a fragment": ("https://api.voucherify.io/#docs", "'https://api.voucherify.io/#docs' has a"
                   f" fragment ('#…'); remove it: {V_EXAMPLE}"),
    "user:password": ("https://me:hunter2-pw@api.voucherify.io", "'https://***@api.voucherify.io'"
                      " holds a user:password part; the keys travel in headers, so remove it:"
                      f" {V_EXAMPLE}"),
    "a user alone": ("https://me@api.voucherify.io", "'https://***@api.voucherify.io' holds a"
                     f" user:password part; the keys travel in headers, so remove it: {V_EXAMPLE}"),
    "the API version": ("https://api.voucherify.io/v1", "'https://api.voucherify.io/v1' ends with"
                        f" the API version '/v1'; remove it: {V_EXAMPLE}"),
    "the API version and a slash": ("https://eu1.api.voucherify.io/v1/", "'https://eu1.api."
                                    "voucherify.io/v1/' ends with the API version '/v1'; remove"
                                    f" it: {V_EXAMPLE}"),
    "a port out of range": ("https://api.voucherify.io:99999", "'https://api.voucherify.io:99999'"
                            " is not an http(s) URL, e.g. https://api.voucherify.io"),
    "a space inside": ("https://api.voucherify .io", "'https://api.voucherify .io' is not an"
                       " http(s) URL, e.g. https://api.voucherify.io"),
    "a line break inside": ("https://api.\nvoucherify.io", "'https://api.\\nvoucherify.io' is not"
                            " an http(s) URL, e.g. https://api.voucherify.io"),
}  # fmt: skip


@pytest.mark.parametrize(("url", "message"), URLS.values(), ids=URLS.keys())
def test_base_url_that_would_mangle_every_path_is_refused(url: str, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        voucherify_client(url, "app-id", "app-token")
    assert str(raised.value) == f"VOUCHERIFY_BASE_URL={message}"
    assert "hunter2" not in str(raised.value)


def test_talon_one_base_url_with_a_query_names_its_variable_and_example() -> None:
    url = "https://acme.europe-west1.talon.one/?tab=integration"
    with pytest.raises(ConfigError) as raised:
        talon_one_client(url, "api-key")
    assert str(raised.value) == (
        f"TALON_ONE_BASE_URL={url!r} has a query string; remove it (each request adds its own):"
        f" {T_EXAMPLE}"
    )


@pytest.mark.parametrize("padding", ["{url}\r\n", "  {url}", "{url}/\n"])
def test_whitespace_around_a_base_url_is_trimmed_with_a_note(sandbox, caplog, padding) -> None:
    caplog.set_level(logging.WARNING, logger="promosync.connectors.secrets")
    settings = sandbox.settings
    client = voucherify_client(
        padding.format(url=sandbox.voucherify_url), settings.voucherify_app_id,
        settings.voucherify_app_token,
    )  # fmt: skip
    assert client.base_url == sandbox.voucherify_url
    assert client.get_json("/v1/customers", {"limit": 1})["object"] == "list"
    assert [m.split(" has ")[0] for m in caplog.messages] == ["VOUCHERIFY_BASE_URL"]


def test_sync_with_a_query_string_in_the_base_url_sends_nothing(
    sandbox, requests_seen, tmp_path
) -> None:
    url = f"{sandbox.voucherify_url}/?page=2"
    before = requests_seen()
    code, output = promosync(_env(sandbox, tmp_path, VOUCHERIFY_BASE_URL=url), "sync", "--only",
                             "voucherify_customers")  # fmt: skip
    assert code == 1
    assert f"sync failed: VOUCHERIFY_BASE_URL={url!r} has a query string" in output
    assert requests_seen() == before


# --- proxies ----------------------------------------------------------------------------------

PROXIES = {
    "a port out of range": ("http://me:pr0xy-pw@127.0.0.1:99999", "'http://***@127.0.0.1:99999'"
                            " is not a proxy URL, e.g. http://proxy:3128"),
    "an unclosed IPv6 bracket": ("http://me:pr0xy-pw@[::1:9", "'http://***@[::1:9' is not a proxy"
                                 " URL, e.g. http://proxy:3128"),
    "a space inside": ("http://me:pr0xy-pw@proxy .corp:3128", "'http://***@proxy .corp:3128' is"
                       " not a proxy URL, e.g. http://proxy:3128"),
    "a SOCKS proxy": ("socks5://me:pr0xy-pw@127.0.0.1:1080", "'socks5://***@127.0.0.1:1080' is a"
                      " socks5 proxy; promosync uses http:// or https:// proxies"),
}  # fmt: skip


@pytest.mark.parametrize(("proxy", "message"), PROXIES.values(), ids=PROXIES.keys())
def test_a_proxy_url_urllib3_cannot_use_is_named_with_its_password_masked(
    monkeypatch, proxy: str, message: str
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", proxy)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    with pytest.raises(ConfigError) as raised:
        voucherify_client("https://api.voucherify.io", "app-id", "app-token")
    assert str(raised.value) == f"HTTPS_PROXY (or ALL_PROXY)={message}"
    assert "pr0xy-pw" not in str(raised.value)


def test_a_proxy_with_a_line_end_is_trimmed_and_used(sandbox, monkeypatch, caplog) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://me:pr0xy-pw@127.0.0.1:9\r\n")  # nothing listens
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    caplog.set_level(logging.WARNING, logger="promosync.connectors.secrets")
    client = voucherify_client(sandbox.voucherify_url, "app-id", "app-token")
    with pytest.raises(ApiError) as raised:
        client.get_json("/v1/customers")
    assert str(raised.value) == (
        "voucherify GET /v1/customers failed with no answer: cannot connect to the proxy"
        " 127.0.0.1:9 (ProxyError); check HTTP_PROXY and NO_PROXY"
    )
    assert caplog.messages[0].startswith("HTTP_PROXY (or ALL_PROXY) has whitespace")
    assert "pr0xy-pw" not in caplog.text
