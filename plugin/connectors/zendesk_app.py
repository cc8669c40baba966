"""The Zendesk sidebar app package: files, translations and icons checks, and the uploadable zip.

The manifest rules are in plugin/connectors/zendesk_manifest.py; this module adds what the
validator checks in the other files (translations/*.json, assets/) and builds the
zip that admins upload as a private app (`amends app package`).

No shared secret is configured in the app: with `signedUrls: true` Zendesk signs
the sidebar's first request with the app's own RSA key (an RS256 JWT), and our
server checks it with the app's public key, so the only setting is `server_url`.

The app files (manifest.json, translations/, assets/) live at the project root
and are found relative to this file, like compose.py finds templates/: package
from a source checkout or an editable install.
"""

from __future__ import annotations

import io
import re
import struct
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from plugin.connectors.zendesk_manifest import VALID_LOCALE, manifest_warnings, parse_json, validate_manifest
from plugin.core.paths import PROJECT_ROOT
from plugin.errors import AmendsError

__all__ = ["InvalidAppPackage", "Report", "check", "load", "build_zip", "package", "validate_manifest",
           "validate_translations", "validate_assets"]

APP_ROOT = PROJECT_ROOT
# https://developer.zendesk.com/apps/docs/developer-guide/styling: required icons and accepted asset types
LOGOS = {"assets/logo.png": 320, "assets/logo-small.png": 128}
ASSET_TYPES = {"png", "jpg", "jpeg", "gif", "svg", "js", "htm", "html", "css", "map", "eot", "woff", "woff2", "otf",
               "ttf", "json", "xml", "hbs", "hdbs"}


class InvalidAppPackage(AmendsError):
    """The app files would be refused by Zendesk; `errors` says why, one message each."""

    def __init__(self, errors: list[str]):
        super().__init__("; ".join(errors))
        self.errors = errors


@dataclass(frozen=True)
class Report:
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def validate_translations(files: dict[str, bytes], manifest: dict) -> list[str]:
    """gem validations/translations.rb: locale_error, json_error, format_error, validate_marketplace_content."""
    errors = []
    for path in sorted(p for p in files if p.startswith("translations/")):
        match = re.fullmatch(r"translations/(.*)\.json", path)
        if not match or not VALID_LOCALE.fullmatch(match.group(1)):
            errors.append(f"{path} is not a valid locale.")
            continue
        try:
            data = parse_json(files[path])
        except ValueError as exc:
            errors.append(f"{path} is not valid JSON. {exc}")
            continue
        if not isinstance(data, dict):
            errors.append(f"{path} is not a JSON object.")
            continue
        app = data.get("app") if isinstance(data.get("app"), dict) else {}
        labels = app.get("parameters") if isinstance(app.get("parameters"), dict) else {}
        errors += [f"Missing required key label on leaf {name} from {path}"
                   for name, leaf in labels.items() if not (isinstance(leaf, dict) and "label" in leaf)]
        if path == "translations/en.json":
            required = ["name"] if manifest.get("private", True) else [
                "name", "short_description", "installation_instructions", "long_description"]
            keys = {"short_description" if k == "description" else k for k in app}
            missing = [k for k in required if k not in keys]
            if missing:
                errors.append(f"Missing required key from {path}: {', '.join(missing)}")
        if path == f"translations/{manifest.get('defaultLocale')}.json":
            # ours: without a label the settings page shows the raw parameter name
            errors += [f"{path} has no label for parameter {p['name']} (app.parameters.{p['name']}.label)."
                       for p in manifest.get("parameters") or [] if isinstance(p, dict) and p.get("name")
                       and not (isinstance(labels.get(p["name"]), dict) and labels[p["name"]].get("label"))]
    return errors


def validate_assets(files: dict[str, bytes]) -> list[str]:
    """The icons and file types the styling reference asks for (see LOGOS)."""
    errors = []
    for path, side in LOGOS.items():
        data = files.get(path)
        if data is None:
            errors.append(f"Missing {path} ({side}x{side} PNG).")
        elif data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
            errors.append(f"{path} is not a PNG file.")
        elif struct.unpack(">II", data[16:24]) != (side, side):
            width, height = struct.unpack(">II", data[16:24])
            errors.append(f"{path} must be {side}x{side} pixels, not {width}x{height}.")
    for path in files:
        if path.startswith("assets/") and path.rsplit(".", 1)[-1].lower() not in ASSET_TYPES:
            errors.append(f"{path}: this file type is not accepted in assets/.")
    return errors


def check(files: dict[str, bytes]) -> Report:
    """Validate an app package held in memory (relative path -> bytes)."""
    if "manifest.json" not in files:
        return Report(["Could not find manifest.json"])  # gem manifest.rb: missing_manifest
    try:
        manifest = parse_json(files["manifest.json"])
    except ValueError as exc:
        return Report([f"manifest is not proper JSON. {exc}"])  # gem: manifest_not_json / duplicate_manifest_keys
    if not isinstance(manifest, dict):
        return Report(["manifest is not a JSON object."])
    errors = validate_manifest(manifest, set(files)) + validate_translations(files, manifest) + validate_assets(files)
    return Report(errors, manifest_warnings(manifest))


def load(root: Path | None = None) -> dict[str, bytes]:
    """The package's files: manifest.json, translations/*.json and assets/*, sorted, hidden files skipped."""
    root = root or APP_ROOT
    paths = [root / "manifest.json"] if (root / "manifest.json").is_file() else []
    for folder in ("translations", "assets"):
        paths += [p for p in (root / folder).rglob("*") if p.is_file()] if (root / folder).is_dir() else []
    rel = {p.relative_to(root).as_posix(): p for p in paths}
    visible = [name for name in sorted(rel) if not any(part.startswith(".") for part in name.split("/"))]
    return {name: rel[name].read_bytes() for name in visible}


def build_zip(files: dict[str, bytes]) -> bytes:
    """A reproducible zip: sorted names at the root, fixed timestamps and modes, so a rebuild is byte-identical."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, files[name])
    return out.getvalue()


def package(output: Path | None = None, root: Path | None = None) -> tuple[Path, Report]:
    """Validate, then write the zip (default dist/amends-zendesk-app-<version>.zip under the working directory)."""
    files = load(root)
    report = check(files)
    if report.errors:
        raise InvalidAppPackage(report.errors)
    version = parse_json(files["manifest.json"]).get("version") or "0"
    output = output or Path("dist") / f"amends-zendesk-app-{version}.zip"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_bytes(build_zip(files))
    return output, report
