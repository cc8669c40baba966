"""The Zendesk app package: our manifest passes Zendesk's validator rules, each broken variant fails
with the validator's message, and `amends app package` builds the exact, reproducible zip."""

from __future__ import annotations

import copy
import io
import json
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from plugin.connectors import zendesk_app
from plugin.connectors.zendesk_app import build_zip, check, load
from tests.service import ROOT, clean_environment

FILES = ["assets/logo-small.png", "assets/logo.png", "manifest.json", "translations/en.json"]


def package_with(manifest: dict | None = None, replace: dict[str, bytes | None] | None = None) -> dict[str, bytes]:
    """Our package in memory, with the manifest and any file replaced (None removes it)."""
    files = load()
    if manifest is not None:
        files["manifest.json"] = json.dumps(manifest).encode()
    for path, data in (replace or {}).items():
        if data is None:
            files.pop(path, None)
        else:
            files[path] = data
    return files


def ours() -> dict:
    return json.loads((ROOT / "manifest.json").read_text())


def mutate(change) -> dict:
    manifest = copy.deepcopy(ours())
    change(manifest)
    return manifest


def sidebar(m: dict) -> dict:
    return m["location"]["support"]["ticket_sidebar"]


def test_our_package_passes_without_errors_or_warnings():
    files = load()
    assert list(files) == FILES
    assert check(files) == zendesk_app.Report([], [])


def test_our_manifest_keeps_the_issue_contract():
    m = ours()
    assert m["name"] == "Amends" and m["private"] is True and m["frameworkVersion"] == "2.0"
    assert m["signedUrls"] is True and m["defaultLocale"] == "en"
    assert sidebar(m)["url"] == "{{setting.server_url}}/zendesk/sidebar"
    assert m["parameters"] == [{"name": "server_url", "type": "url", "required": True}]
    assert m["author"]["name"] and m["author"]["email"] and m["author"]["url"].startswith("https://")
    app = json.loads((ROOT / "translations" / "en.json").read_text())["app"]
    assert set(app) == {"name", "short_description", "long_description", "installation_instructions", "parameters"}
    assert set(app["parameters"]["server_url"]) == {"label", "helpText"}


def test_manifest_version_is_the_distribution_version():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert ours()["version"] == project["version"]


def test_logos_are_what_the_generator_draws():
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import make_app_logos
    finally:
        sys.path.remove(str(ROOT / "tools"))
    assert (ROOT / "assets" / "logo-small.png").read_bytes() == make_app_logos.draw(128, tile_radius=0.18)
    assert (ROOT / "assets" / "logo.png").read_bytes() == make_app_logos.draw(320, tile_radius=0.0)


BROKEN_MANIFESTS = {
    "no author": (lambda m: m.pop("author"), "Missing required field in manifest: author"),
    "no author email": (lambda m: m["author"].pop("email"), "author email is required."),
    "author url not a URL": (lambda m: m["author"].update(url="www.example.com"),
                             'author url must be a valid URL, got "www.example.com".'),
    "no locale nor framework": (lambda m: [m.pop("defaultLocale"), m.pop("frameworkVersion")],
                                "Missing required fields in manifest: defaultLocale, frameworkVersion"),
    "locale without file": (lambda m: m.update(defaultLocale="fr"), "Missing translation file for locale 'fr'."),
    "invalid locale": (lambda m: m.update(defaultLocale="english"), "english is not a valid default locale."),
    "no location": (lambda m: m.pop("location"), "Missing required field in manifest: location"),
    "empty location": (lambda m: m.update(location={"support": {}}), "Missing required field in manifest: location"),
    "v1 location list": (lambda m: m.update(location=["ticket_sidebar"]),
                         "App locations need to be URLs for this framework version."),
    "unknown location": (lambda m: m["location"]["support"].update(ticket_sidebars=sidebar(m)),
                         "ticket_sidebars is an invalid location in Support."),
    "unknown product": (lambda m: m["location"].update(desk={"ticket_sidebar": sidebar(m)}),
                        "desk is an invalid host for apps."),
    "http URL": (lambda m: sidebar(m).update(url="http://amends.example.com/zendesk/sidebar"),
                 "http://amends.example.com/zendesk/sidebar is either an invalid location URI, refers to a missing "
                 "asset, or does not use HTTPS."),
    "http on 127.0.0.1": (lambda m: sidebar(m).update(url="http://127.0.0.1:8000/zendesk/sidebar"),
                          "http://127.0.0.1:8000/zendesk/sidebar is either an invalid location URI, refers to a "
                          "missing asset, or does not use HTTPS."),
    "missing asset": (lambda m: sidebar(m).update(url="assets/iframe.html"),
                      "assets/iframe.html is either an invalid location URI, refers to a missing asset, or does not "
                      "use HTTPS."),
    "http around placeholder": (lambda m: sidebar(m).update(url="http://{{setting.server_url}}/sidebar"),
                                "http://{{setting.server_url}}/sidebar is either an invalid location URI, refers to "
                                "a missing asset, or does not use HTTPS."),
    "placeholder of no parameter": (lambda m: sidebar(m).update(url="{{setting.server}}/zendesk/sidebar"),
                                    "location support.ticket_sidebar uses {{setting.server}} but no parameter is "
                                    "named server."),
    "placeholder of a secure parameter": (lambda m: m["parameters"][0].update(secure=True, scopes=["header"]),
                                          "location support.ticket_sidebar uses {{setting.server_url}}, a secure "
                                          "parameter, which is never filled in location URLs."),
    "no URL": (lambda m: sidebar(m).pop("url"), "ticket_sidebar location does not specify a URI."),
    "flexible not boolean": (lambda m: sidebar(m).update(flexible="yes"),
                             "yes is an invalid type for the flexible location parameter."),
    "location option typo": (lambda m: sidebar(m).update(autohide=True),
                             "location support.ticket_sidebar has unknown options: autohide"),
    "unknown top-level key": (lambda m: m.update(signedUrl=True), "Unknown field in manifest: signedUrl"),
    "signedUrls not boolean": (lambda m: m.update(signedUrls="true"),
                               'signedUrls must be a boolean value, got "true".'),
    "framework v1": (lambda m: m.update(frameworkVersion="1.0"),
                     "New apps must target framework version 2.0, not 1.0."),
    "unknown framework": (lambda m: m.update(frameworkVersion="3.0"),
                          "3.0 is not a valid framework version. Available versions are: 0.5, 1.0, 2.0."),
    "version not numbers": (lambda m: m.update(version="latest"),
                            'version must be dotted numbers such as "1.0.0", got "latest".'),
    "parameters not a list": (lambda m: m.update(parameters={"server_url": "url"}), (
        "App parameters must be an array.",
        "location support.ticket_sidebar uses {{setting.server_url}} but no parameter is named server_url.")),
    "duplicate parameter": (lambda m: m["parameters"].append(dict(m["parameters"][0])),
                            "Duplicate app parameters defined: server_url"),
    "bad parameter type": (lambda m: m["parameters"][0].update(type="string"), "string is an invalid parameter type."),
    "hidden and required": (lambda m: m["parameters"][0].update(type="hidden"),
                            "server_url is set to hidden and cannot be required."),
    "required not boolean": (lambda m: m["parameters"][0].update(required="yes"),
                             'parameters.server_url.required must be a boolean value, got "yes".'),
    "parameter field typo": (lambda m: m["parameters"][0].update(requried=True),
                             "parameters.server_url has unknown fields: requried"),
    "parameter called name": (lambda m: m["parameters"].append({"name": "name", "type": "text"}),
                              "Can't call a parameter 'name'"),
    "two oauth parameters": (lambda m: m["parameters"].extend([{"name": "a", "type": "oauth"},
                                                                {"name": "b", "type": "oauth"}]),
                             "Too many parameters with type 'oauth': one permitted"),
}


@pytest.mark.parametrize("change, expected", BROKEN_MANIFESTS.values(), ids=BROKEN_MANIFESTS.keys())
def test_broken_manifest_fails_with_the_validators_message(change, expected):
    manifest = mutate(change)
    expected = list(expected) if isinstance(expected, tuple) else [expected]
    assert zendesk_app.validate_manifest(manifest, set(FILES)) == expected
    assert set(expected) <= set(check(package_with(manifest)).errors)


def test_localhost_over_http_is_allowed_like_the_validator_allows_it():
    manifest = mutate(lambda m: sidebar(m).update(url="http://localhost:8000/zendesk/sidebar"))
    assert check(package_with(manifest)).errors == []


BROKEN_FILES = {
    "no manifest": ({"manifest.json": None}, "Could not find manifest.json"),
    "manifest not JSON": ({"manifest.json": b"{"}, "manifest is not proper JSON."),
    "repeated manifest key": ({"manifest.json": b'{"name": "A", "name": "B"}'},
                              'manifest is not proper JSON. duplicate key "name"'),
    "translation not JSON": ({"translations/en.json": b"{,}"}, "translations/en.json is not valid JSON."),
    "translation not an object": ({"translations/en.json": b"[]"}, "translations/en.json is not a JSON object."),
    "bad locale file": ({"translations/english.json": b"{}"}, "translations/english.json is not a valid locale."),
    "parameter without label": (
        {"translations/en.json": json.dumps({"app": {"name": "A", "parameters": {"server_url": {}}}}).encode()},
        "Missing required key label on leaf server_url from translations/en.json"),
    "no app name": ({"translations/en.json": b'{"app": {}}'},
                    "Missing required key from translations/en.json: name"),
    "setting not translated": ({"translations/en.json": b'{"app": {"name": "A"}}'},
                               "translations/en.json has no label for parameter server_url "
                               "(app.parameters.server_url.label)."),
    "no small logo": ({"assets/logo-small.png": None}, "Missing assets/logo-small.png (128x128 PNG)."),
    "logo wrong size": ({"assets/logo.png": (ROOT / "assets" / "logo-small.png").read_bytes()},
                        "assets/logo.png must be 320x320 pixels, not 128x128."),
    "logo not PNG": ({"assets/logo.png": b"GIF89a"}, "assets/logo.png is not a PNG file."),
    "refused asset type": ({"assets/setup.sh": b"echo"},
                           "assets/setup.sh: this file type is not accepted in assets/."),
}


@pytest.mark.parametrize("replace, expected", BROKEN_FILES.values(), ids=BROKEN_FILES.keys())
def test_broken_package_file_fails_with_the_validators_message(replace, expected):
    errors = check(package_with(replace=replace)).errors
    assert any(e.startswith(expected) for e in errors), errors


def test_public_app_needs_every_marketplace_text():
    en = {"app": {"name": "A", "description": "d", "parameters": {"server_url": {"label": "L"}}}}
    files = package_with(mutate(lambda m: m.update(private=False)), {"translations/en.json": json.dumps(en).encode()})
    assert check(files).errors == [
        "Missing required key from translations/en.json: installation_instructions, long_description"]


def test_secure_settings_advice_is_a_warning_not_an_error():
    manifest = mutate(lambda m: m["parameters"].extend([
        {"name": "api_token", "type": "text"},
        {"name": "signing_secret", "type": "password", "secure": True, "default": "x", "scopes": ["header"]},
        {"name": "region", "type": "hidden", "secure": True}]))
    labels = {p["name"]: {"label": p["name"]} for p in manifest["parameters"]}
    en = {"app": {"name": "A", "parameters": labels}}
    report = check(package_with(manifest, {"translations/en.json": json.dumps(en).encode()}))
    assert report.errors == []
    assert report.warnings == [
        "api_token: make sure to set secure to true when using keys in Settings.",
        "signing_secret: default values for secure or hidden parameters are not stored securely.",
        "region: secure parameter without scopes."]


def test_zip_is_sorted_at_the_root_and_byte_identical_on_rebuild():
    files = load()
    data = build_zip(files)
    assert data == build_zip(dict(reversed(list(files.items()))))
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert zf.namelist() == FILES
        assert all(info.date_time == (1980, 1, 1, 0, 0, 0) for info in zf.infolist())
        assert {name: zf.read(name) for name in FILES} == files


def test_load_skips_hidden_files(tmp_path):
    app = copy_app(tmp_path)
    (app / "assets" / ".DS_Store").write_bytes(b"junk")
    assert list(load(app)) == FILES


def copy_app(tmp_path: Path) -> Path:
    app = tmp_path / "app"
    app.mkdir()
    shutil.copy(ROOT / "manifest.json", app)
    shutil.copytree(ROOT / "translations", app / "translations")
    shutil.copytree(ROOT / "assets", app / "assets")
    return app


def amends(args: list[str], cwd: Path, app_root: Path | None = None):
    """`amends ARGS` in a fresh interpreter; app_root points the command at a copy of the app files."""
    if app_root is None:
        command = [sys.executable, "-m", "plugin.cli", *args]
    else:
        command = [sys.executable, "-c", "import sys; from pathlib import Path; import plugin.connectors.zendesk_app as z; "
                   "z.APP_ROOT = Path(sys.argv[1]); from plugin.cli import main; main(sys.argv[2:])",
                   str(app_root), *args]
    return subprocess.run(command, cwd=cwd, env=clean_environment({}), capture_output=True, text=True, timeout=60)


def test_package_command_writes_the_default_zip(tmp_path):
    result = amends(["app", "package"], tmp_path)
    assert result.returncode == 0, result.stderr
    target = tmp_path / "dist" / f"amends-zendesk-app-{ours()['version']}.zip"
    assert result.stdout.strip() == f"wrote {target.relative_to(tmp_path)}" and result.stderr == ""
    with zipfile.ZipFile(target) as zf:
        assert zf.namelist() == FILES
        assert zf.read("manifest.json") == (ROOT / "manifest.json").read_bytes()
        assert zf.read("translations/en.json") == (ROOT / "translations" / "en.json").read_bytes()


def test_package_command_honours_output(tmp_path):
    result = amends(["app", "package", "--output", "out/app.zip"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out" / "app.zip").read_bytes() == build_zip(load())


def test_package_command_refuses_an_invalid_app_and_writes_nothing(tmp_path):
    app = copy_app(tmp_path)
    manifest = mutate(lambda m: [m["author"].pop("email"), sidebar(m).update(url="http://amends.example.com/x")])
    (app / "manifest.json").write_text(json.dumps(manifest))
    result = amends(["app", "package"], tmp_path, app_root=app)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "error: author email is required.",
        "error: http://amends.example.com/x is either an invalid location URI, refers to a missing asset, "
        "or does not use HTTPS."]
    assert "Traceback" not in result.stderr and not (tmp_path / "dist").exists()
