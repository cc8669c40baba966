"""The Zendesk app manifest rules: our copy of what Zendesk's validator checks in manifest.json.

`zcli apps:validate` needs a Zendesk account, so the rules Zendesk applies on
upload are re-implemented from its open-source validator, the Ruby gem
zendesk/zendesk_apps_support (lib/zendesk_apps_support/; each check cites
`gem <file>: <rule>`). Rules marked `ours:` are stricter than the gem and catch
mistakes it lets through: it ignores unknown keys, so a misspelt `signedUrls`
would silently turn request signing off. Reference:
https://developer.zendesk.com/apps/docs/apps-v2/manifest
"""

from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

# gem product.rb: product name -> legacy name (both accepted as location keys)
PRODUCTS = {"support": "zendesk", "chat": "zopim", "standalone_chat": "lotus_box", "sell": "sell"}
# gem location.rb: LOCATIONS_AVAILABLE per product
LOCATIONS = {
    "support": {"top_bar", "nav_bar", "ticket_sidebar", "new_ticket_sidebar", "user_sidebar",
                "organization_sidebar", "background", "modal", "ticket_editor", "system_top_bar"},
    "chat": {"chat_sidebar", "background"},
    "standalone_chat": {"nav_bar", "system_top_bar"},
    "sell": {"deal_card", "person_card", "company_card", "lead_card", "background", "modal", "dashboard",
             "note_editor", "call_log_editor", "email_editor"},
}
# gem manifest.rb: RUBY_TO_JSON (every key the gem reads)
MANIFEST_KEYS = {"requirementsOnly", "marketingOnly", "version", "author", "name", "experiments", "frameworkVersion",
                 "singleInstall", "signedUrls", "noTemplate", "defaultLocale", "location", "private", "oauth",
                 "parameters", "domainWhitelist", "remoteInstallationURL", "termsConditionsURL", "gaID"}
# gem manifest/location_options.rb: RUBY_TO_JSON
LOCATION_KEYS = {"legacy", "autoLoad", "autoHide", "flexible", "signed", "url", "size"}
PARAMETER_KEYS = {"name", "type", "required", "secure", "default", "scopes"}  # gem manifest/parameter.rb
# gem manifest/parameter.rb: TYPES
PARAMETER_TYPES = ("text", "password", "checkbox", "url", "number", "multiline", "hidden", "oauth")
FRAMEWORK_SERVED, FRAMEWORK_FOR_CREATE = ("0.5", "1.0", "2.0"), ("2.0",)  # gem app_version.rb
VALID_LOCALE = re.compile(r"[a-z]{2}(-\w{2,3})?")  # gem validations/translations.rb: VALID_LOCALE
SECURABLE = re.compile("token|key|pwd|password", re.IGNORECASE)  # gem validations/secure_settings.rb
SETTING_RE = re.compile(r"\{\{setting\.([A-Za-z0-9_.-]+)\}\}")
VERSION_RE = re.compile(r"\d+(\.\d+){0,3}")


def parse_json(data: bytes | str) -> object:
    """json.loads that refuses repeated keys, like the gem's NoOverrideHash (gem manifest/no_override_hash.rb)."""

    def no_repeats(pairs):
        seen = {}
        for key, value in pairs:
            if key in seen:
                raise ValueError(f'duplicate key "{key}"')
            seen[key] = value
        return seen

    return json.loads(data, object_pairs_hook=no_repeats)


def _plural(items: list[str], one: str, many: str) -> str:
    return (one if len(items) == 1 else many).format(", ".join(items))


def validate_manifest(manifest: dict, files: set[str]) -> list[str]:
    """Every reason Zendesk (or we) would refuse this manifest, given the package's file paths."""
    errors: list[str] = []
    # ours: the gem ignores unknown keys, so a misspelt "signedUrl" would silently turn signing off
    unknown = sorted(set(manifest) - MANIFEST_KEYS)
    if unknown:
        errors.append(_plural(unknown, "Unknown field in manifest: {}", "Unknown fields in manifest: {}"))
    # gem manifest.rb: missing_keys_error (author, defaultLocale), missing_framework_version, missing_location_error;
    # requirements-only and marketing-only apps have no location (ban_location, ban_framework_version)
    no_ui = manifest.get("requirementsOnly") is True or manifest.get("marketingOnly") is True
    for key, banned in (("location", "Locations"), ("frameworkVersion", "Framework versions")):
        if no_ui and manifest.get(key) is not None:
            errors.append(f"{banned} can't be set for requirements-only or marketing-only apps")
    required = ("author", "defaultLocale") if no_ui else ("author", "defaultLocale", "frameworkVersion", "location")
    missing = [k for k in required if manifest.get(k) is None]
    if missing:
        errors.append(_plural(missing, "Missing required field in manifest: {}",
                              "Missing required fields in manifest: {}"))
    # gem manifest.rb: string_error / boolean_error / type_checks (and ours: name)
    for key in ("name", "defaultLocale", "version", "frameworkVersion", "remoteInstallationURL", "termsConditionsURL",
                "gaID"):
        if key in manifest and not isinstance(manifest[key], str):
            errors.append(f'{key} must be a string, got "{manifest[key]}".')
    for key in ("requirementsOnly", "marketingOnly", "singleInstall", "signedUrls", "private"):
        if key in manifest and not isinstance(manifest[key], bool):
            errors.append(f'{key} must be a boolean value, got "{manifest[key]}".')
    if not isinstance(manifest.get("experiments", {}), dict):
        errors.append("The manifest field experiments needs to be key-value pairs with string keys")
    whitelist = manifest.get("domainWhitelist", [])
    if not (isinstance(whitelist, list) and all(isinstance(d, str) for d in whitelist)):
        errors.append("The manifest field domainWhitelist need to be an array containing strings")
    errors += _author_errors(manifest.get("author"))
    errors += _locale_errors(manifest.get("defaultLocale"), files)
    version = manifest.get("version")
    if isinstance(version, str) and not VERSION_RE.fullmatch(version):  # ours: it names the zip; keep it plain
        errors.append(f'version must be dotted numbers such as "1.0.0", got "{version}".')
    framework = manifest.get("frameworkVersion")
    if isinstance(framework, str) and framework not in FRAMEWORK_SERVED:  # gem manifest.rb: invalid_version_error
        errors.append(f"{framework} is not a valid framework version. "
                      f"Available versions are: {', '.join(FRAMEWORK_SERVED)}.")
    elif isinstance(framework, str) and framework not in FRAMEWORK_FOR_CREATE:  # gem app_version.rb: VALID_FOR_CREATE
        errors.append(f"New apps must target framework version {FRAMEWORK_FOR_CREATE[-1]}, not {framework}.")
    params = manifest.get("parameters", [])
    if not isinstance(params, list) or not all(isinstance(p, dict) for p in params):
        errors.append("App parameters must be an array.")  # gem manifest.rb: parameters_not_an_array
        params = []
    errors += _parameter_errors(params)
    errors += _location_errors(manifest.get("location"), files, {p.get("name"): p for p in params})
    return errors


def _author_errors(author: object) -> list[str]:
    if author is None:
        return []
    if not isinstance(author, dict):
        return ["author must be an object with name, email and url."]
    errors = [f'author {k} must be a string, got "{author[k]}".'  # gem manifest.rb: string_error (author fields)
              for k in ("name", "email", "url") if k in author and not isinstance(author[k], str)]
    # ours, after the reference ("The property contains a JSON object with values for name, email and url"):
    # the email is where Zendesk tells admins to ask for support.
    errors += [f"author {k} is required." for k in ("name", "email") if not author.get(k)]
    email = author.get("email")
    if isinstance(email, str) and email and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
        errors.append(f'author email must be an email address, got "{email}".')
    url = author.get("url")
    if isinstance(url, str) and not re.match(r"https?://", url):  # gem manifest.rb: validate_url
        errors.append(f'author url must be a valid URL, got "{url}".')
    return errors


def _locale_errors(locale: object, files: set[str]) -> list[str]:
    """gem manifest.rb: default_locale_error."""
    if not isinstance(locale, str):
        return []
    if not VALID_LOCALE.fullmatch(locale):
        return [f"{locale} is not a valid default locale."]
    if f"translations/{locale}.json" not in files:
        return [f"Missing translation file for locale '{locale}'."]
    return []


def _parameter_errors(params: list[dict]) -> list[str]:
    errors: list[str] = []
    names = [p.get("name") for p in params]
    if not all(isinstance(n, str) and n for n in names):  # ours: a nameless setting cannot be read
        errors.append("Every app parameter needs a name.")
    repeated = sorted({n for n in names if isinstance(n, str) and names.count(n) > 1})
    if repeated:  # gem manifest.rb: parameters_error (duplicate_parameters)
        errors.append(f"Duplicate app parameters defined: {', '.join(repeated)}")
    for p in params:
        name = p.get("name")
        for key in ("required", "secure"):  # gem manifest.rb: parameters_error (validate_boolean)
            if key in p and not isinstance(p[key], bool):
                errors.append(f'parameters.{name}.{key} must be a boolean value, got "{p[key]}".')
        unknown = sorted(set(p) - PARAMETER_KEYS)
        if unknown:  # ours: a misspelt "requried" would be ignored by Zendesk
            errors.append(f"parameters.{name} has unknown fields: {', '.join(unknown)}")
    bad_types = [str(p.get("type")) for p in params if p.get("type", "text") not in PARAMETER_TYPES]
    if bad_types:  # gem manifest.rb: invalid_type_error
        errors.append(_plural(bad_types, "{} is an invalid parameter type.", "{} are invalid parameter types."))
    hidden_required = [str(p.get("name")) for p in params if p.get("type") == "hidden" and p.get("required")]
    if hidden_required:  # gem manifest.rb: invalid_hidden_parameter_error
        errors.append(_plural(hidden_required, "{} is set to hidden and cannot be required.",
                              "{} are set to hidden and cannot be required."))
    oauth = [p for p in params if p.get("type") == "oauth"]
    if len(oauth) > 1:  # gem manifest.rb: too_many_oauth_parameters
        errors.append("Too many parameters with type 'oauth': one permitted")
    if any(p.get("secure") for p in oauth):  # gem manifest.rb: oauth_cannot_be_secure
        errors.append("oauth parameter cannot be set to be secure.")
    if "name" in names:  # gem manifest.rb: name_as_parameter_name_error
        errors.append("Can't call a parameter 'name'")
    return errors


def _location_errors(location: object, files: set[str], params: dict) -> list[str]:
    """Products, their locations and each location's options (v2: every location is a URL)."""
    if location is None:
        return []
    if isinstance(location, (str, list)):  # gem manifest.rb: location_framework_mismatch (legacy v1 form)
        return ["App locations need to be URLs for this framework version."]
    if not isinstance(location, dict):
        return ["location must be an object of products and their locations."]
    if not any(isinstance(places, dict) and places for places in location.values()):
        return ["Missing required field in manifest: location"]  # gem manifest.rb: missing_location_error
    errors: list[str] = []
    legacy = {v: k for k, v in PRODUCTS.items()}
    for host, places in location.items():
        product = host if host in PRODUCTS else legacy.get(host)
        if product is None:  # gem manifest.rb: invalid_location_error (unknown_hosts)
            errors.append(f"{host} is an invalid host for apps.")
            continue
        if not isinstance(places, dict):
            errors.append(f"location.{host} must be an object of locations.")
            continue
        unknown = [name for name in places if name not in LOCATIONS[product]]
        if unknown:  # gem manifest.rb: invalid_location_error (unknown_locations)
            errors.append(_plural(unknown, "{} is an invalid location in " + product.capitalize() + ".",
                                  "{} are invalid locations in " + product.capitalize() + "."))
        for name, options in places.items():
            options = options if isinstance(options, dict) else {"url": options}  # gem manifest.rb: replace_string_uris
            errors += _location_option_errors(f"{host}.{name}", name, options, files, params)
    return errors


def _location_option_errors(where: str, name: str, options: dict, files: set[str], params: dict) -> list[str]:
    errors: list[str] = []
    unknown = sorted(set(options) - LOCATION_KEYS)
    if unknown:  # ours: "autohide" or "signedUrl" here would be ignored
        errors.append(f"location {where} has unknown options: {', '.join(unknown)}")
    url = options.get("url")
    if isinstance(url, str) and url:
        if url == "_legacy" or options.get("legacy"):  # gem manifest.rb: location_framework_mismatch
            errors.append("App locations need to be URLs for this framework version.")
        elif "{{setting." in url:  # gem manifest.rb: invalid_location_uri_error skips these URLs
            errors += _placeholder_errors(where, url, params)
        elif not _valid_uri(url, files):
            errors.append(f"{url} is either an invalid location URI, refers to a missing asset, or does not use HTTPS.")
    elif options.get("autoLoad", True):  # gem manifest.rb: blank_location_uri
        errors.append(f"{name} location does not specify a URI.")
    if "flexible" in options and not isinstance(options["flexible"], bool):  # gem: invalid_location_flexible_type
        errors.append(f"{options['flexible']} is an invalid type for the flexible location parameter.")
    return errors


def _valid_uri(url: str, files: set[str]) -> bool:
    """gem manifest.rb: valid_absolute_uri? (https, or http only on host "localhost") / valid_relative_uri?"""
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    if parts.scheme:
        return parts.scheme == "https" and bool(parts.netloc) or parts.hostname == "localhost"
    return parts.path.startswith("assets/") and parts.path in files


def _placeholder_errors(where: str, url: str, params: dict) -> list[str]:
    """ours: the gem accepts any URL holding "{{setting.", so we check what it cannot. The placeholder
    must name a parameter, and not a secure one: a location URL is filled in the agent's browser, where
    secure values never arrive (Zendesk substitutes them only inside its request proxy). What is around
    the placeholder must still make an https (or localhost) URL."""
    errors = []
    for name in SETTING_RE.findall(url):
        if name not in params:
            errors.append(f"location {where} uses {{{{setting.{name}}}}} but no parameter is named {name}.")
        elif params[name].get("secure"):
            errors.append(f"location {where} uses {{{{setting.{name}}}}}, a secure parameter, which is never "
                          "filled in location URLs.")
    if not SETTING_RE.match(url) and not _valid_uri(SETTING_RE.sub("x", url), set()):
        errors.append(f"{url} is either an invalid location URI, refers to a missing asset, or does not use HTTPS.")
    return errors


def manifest_warnings(manifest: dict) -> list[str]:
    """Advice the gem gives without refusing the upload (gem validations/secure_settings.rb)."""
    params = [p for p in manifest.get("parameters") or [] if isinstance(p, dict)]
    warnings = []
    for p in params:
        name, secure = str(p.get("name")), bool(p.get("secure"))
        if SECURABLE.search(name) and p.get("type", "text") in ("text", "password") and not secure:
            warnings.append(f"{name}: make sure to set secure to true when using keys in Settings.")
        if "default" in p and (secure or p.get("type") == "hidden"):
            warnings.append(f"{name}: default values for secure or hidden parameters are not stored securely.")
        if secure and not p.get("scopes"):
            warnings.append(f"{name}: secure parameter without scopes.")
    return warnings
