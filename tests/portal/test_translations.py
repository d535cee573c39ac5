"""The portal in English, Spanish and French: every marked message translated in each catalogue
(placeholders kept), the catalogues up to date with the code and compiled, every template string
marked, and the language chosen by the browser or by the person (the header's switcher)."""

from __future__ import annotations

import contextlib
import re
import shutil
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import polib
import pytest
from django.conf import settings
from django.core.management import call_command
from django.template.base import DebugLexer, TokenType
from django.template.loader import render_to_string
from django.test import RequestFactory

ROOT = Path(__file__).resolve().parent.parent.parent
TRANSLATED = tuple(code for code, _name in settings.LANGUAGES if code != settings.LANGUAGE_CODE)
# What `makemessages` leaves out (the README's command, and `make messages`): not the portal's
# own text, or not shown to anyone but developers.
NOT_SCANNED = (".git", ".venv", "var", "tests", "benchmarks", "devtools", "locale")


def catalogue(language: str, kind: str = "po") -> Path:
    return ROOT / "locale" / language / "LC_MESSAGES" / f"django.{kind}"


def _key(entry: polib.POEntry | polib.MOEntry) -> tuple[str, str]:
    return (entry.msgctxt or "", entry.msgid)


# --- every message translated, its placeholders kept ----------------------------------------------

_PLACEHOLDER = re.compile(
    r"%(?:\(\w+\))?[-#0 +]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa%]"  # %(name)s, %d, %%
    r"|\{\w*\}"  # {name}, as format_lazy and str.format fill them
    # The HTML a message carries stays (not "<API key>", which is text).
    r"|</?(?:a|abbr|b|br|code|em|i|kbd|p|small|span|strong)\b[^>]*>"
)


def placeholders(text: str) -> list[str]:
    return sorted(_PLACEHOLDER.findall(text))


def translation_problems(entry: polib.POEntry) -> list[str]:
    """What is wrong with one entry of a catalogue: untranslated, fuzzy, or a translation whose
    placeholders are not its msgid's."""
    if "fuzzy" in entry.flags:
        return ["fuzzy"]
    if entry.msgid_plural:
        expected = sorted(set(placeholders(entry.msgid)) | set(placeholders(entry.msgid_plural)))
        forms = [entry.msgstr_plural[index] for index in sorted(entry.msgstr_plural)]
        if not forms or not all(forms):
            return ["a plural form is not translated"]
        return [
            f"form {index} has {sorted(set(placeholders(form)))}, not {expected}"
            for index, form in enumerate(forms)
            if sorted(set(placeholders(form))) != expected
        ]
    if not entry.msgstr:
        return ["not translated"]
    if placeholders(entry.msgstr) != placeholders(entry.msgid):
        return [f"has {placeholders(entry.msgstr)}, not {placeholders(entry.msgid)}"]
    return []


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_message_has_its_translation_with_the_same_placeholders(language):
    entries = [entry for entry in polib.pofile(str(catalogue(language))) if not entry.obsolete]
    assert len(entries) > 100
    problems = [
        f"{entry.msgid!r}: {problem}"
        for entry in entries
        for problem in translation_problems(entry)
    ]
    assert not problems, f"locale/{language}: " + "; ".join(problems)


def test_the_checks_see_a_missing_translation_and_a_lost_placeholder():
    assert translation_problems(polib.POEntry(msgid="Sign in", msgstr="")) == ["not translated"]
    fuzzy = polib.POEntry(msgid="Sign in", msgstr="Entrar", flags=["fuzzy"])
    assert translation_problems(fuzzy) == ["fuzzy"]
    lost = polib.POEntry(msgid="Risk analysis: %(name)s", msgstr="Análisis de riesgos")
    assert translation_problems(lost) == ["has [], not ['%(name)s']"]
    renamed = polib.POEntry(msgid="{field} is too long", msgstr="{campo} es demasiado largo")
    assert translation_problems(renamed)
    plural = polib.POEntry(
        msgid="%(count)d record",
        msgid_plural="%(count)d records",
        msgstr_plural={0: "%(count)d registro", 1: "", 2: "%(count)d registros"},
    )
    assert translation_problems(plural) == ["a plural form is not translated"]
    kept = polib.POEntry(msgid="Keep it: <strong>now</strong>", msgstr="Guárdelo: ahora")
    assert translation_problems(kept)


@pytest.mark.parametrize("language", TRANSLATED)
def test_the_committed_compiled_catalogue_is_its_po_file_compiled(language):
    """A clean checkout runs translated without gettext: the .mo files are committed, and they
    must say what the .po files say (`manage.py compilemessages` after every change)."""
    written = {
        _key(entry): entry.msgstr_plural or entry.msgstr
        for entry in polib.pofile(str(catalogue(language)))
        if entry.translated() and not entry.obsolete
    }
    compiled = {
        _key(entry): entry.msgstr_plural or entry.msgstr
        for entry in polib.mofile(str(catalogue(language, "mo")))
        if entry.msgid
    }
    stale = sorted(
        key[1] for key, translation in written.items() if compiled.get(key) != translation
    )
    assert not stale, f"locale/{language}: run compilemessages; out of date: {stale[:20]}"
    assert compiled.keys() <= written.keys()


# --- the catalogues up to date with the code and the templates -----------------------------------


def _source_only(directory: str, names: list[str]) -> set[str]:
    """For copytree: folders, and the files makemessages reads, outside what it leaves out."""
    base = Path(directory)
    return {
        name
        for name in names
        if name in NOT_SCANNED
        or name == "__pycache__"
        or ((base / name).is_file() and Path(name).suffix not in (".py", ".html", ".txt"))
    }


def marked_messages(work: Path, settings) -> set[tuple[str, str]]:
    """Every message the code and the templates mark, as `makemessages` extracts it, run on a
    copy of the source tree so that the committed catalogues are left as they are."""
    if shutil.which("xgettext") is None:
        pytest.fail("GNU gettext is not installed (apt-get install gettext; `make test` does)")
    tree = work / "tree"
    shutil.copytree(ROOT, tree, ignore=_source_only, symlinks=True)
    (tree / "locale").mkdir()
    settings.LOCALE_PATHS = [str(tree / "locale")]
    with contextlib.chdir(tree):
        call_command(
            "makemessages",
            locale=["es"],
            ignore_patterns=list(NOT_SCANNED),
            no_obsolete=True,
            verbosity=0,
        )
    extracted = polib.pofile(str(tree / "locale" / "es" / "LC_MESSAGES" / "django.po"))
    return {_key(entry) for entry in extracted if not entry.obsolete}


def test_the_catalogues_hold_every_marked_message_and_no_other(tmp_path, settings):
    marked = marked_messages(tmp_path, settings)
    assert len(marked) > 100
    for language in TRANSLATED:
        held = {_key(entry) for entry in polib.pofile(str(catalogue(language)))}
        missing = sorted(msgid for _context, msgid in marked - held)
        assert not missing, (
            f"Marked for translation but not in locale/{language} (run makemessages, translate, "
            f"compilemessages; README, 'Languages'): {missing}"
        )
        gone = sorted(msgid for _context, msgid in held - marked)
        assert not gone, f"In locale/{language} but marked nowhere any more (makemessages): {gone}"


def test_make_messages_leaves_out_the_folders_this_test_leaves_out():
    makefile = (ROOT / "Makefile").read_text()
    ignored = re.search(r"^MESSAGES_IGNORED :=(.*)$", makefile, flags=re.MULTILINE).group(1)
    assert set(re.findall(r"--ignore=(\S+)", ignored)) == set(NOT_SCANNED) - {".git", "locale"}


# --- every template string marked -----------------------------------------------------------------

# Every templates folder of the repository's apps: all held to the marking check.
ALL_TEMPLATE_DIRS: tuple[str, ...] = (
    "portal/templates",
    "compliance/templates",
    "recordings/templates",
    "audit/templates",
    "signin/templates",
)
CHECKED_TEMPLATE_DIRS = ALL_TEMPLATE_DIRS
# Written in one language whatever the reader's: the answer letter of a data-subject request is in
# the requester's language, one template per language (recordings/subject_requests/letter.py).
WRITTEN_IN_ONE_LANGUAGE: tuple[str, ...] = (
    "recordings/templates/recordings/subject_request_letter_en.html",
    "recordings/templates/recordings/subject_request_letter_es.html",
    "recordings/templates/recordings/subject_request_letter_fr.html",
)

# Attributes a person reads (a tooltip, a placeholder, what a screen reader says); the others
# (class, href, name, id, data-*) are for the browser.
_READ_ATTRIBUTES = {"title", "alt", "placeholder", "aria-label", "aria-description", "label"}
_BUTTON_TYPES = {"submit", "button", "reset"}
_LETTER = re.compile(r"[^\W\d_]")
# Names that are the same in every language: the product's, and the file formats'.
_NAMES = re.compile(r"\b(?:Custodia|CSV|XLSX)\b")
# A template tag or variable, in the text the HTML parser reads: no letter, no markup.
_HOLE = "\u2063"
# Filters whose quoted argument is shown as it is: {{ value|default:"none" }}.
_SHOWN_ARGUMENT = re.compile(r"\|\s*(?:default|default_if_none|yesno)\s*:\s*(\"[^\"]*\"|'[^']*')")
_TRANSLATED_BLOCKS = {"blocktranslate": "endblocktranslate", "blocktrans": "endblocktrans"}
_UNREAD_BLOCKS = {"comment": "endcomment", "verbatim": "endverbatim"}


@dataclass(frozen=True)
class Unmarked:
    template: str
    line: int
    text: str

    def __str__(self) -> str:
        return f"{self.template}:{self.line}: {self.text!r}"


class _ReadText(HTMLParser):
    """The text a person reads in HTML: the data outside <script> and <style>, and the values of
    the attributes read aloud or shown (and a button's label)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[int, str]] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._hidden += 1
        attributes = dict(attrs)
        button = tag in ("input", "button") and attributes.get("type") in _BUTTON_TYPES
        for name, value in attrs:
            if value and (name in _READ_ATTRIBUTES or (name == "value" and button)):
                self._keep(value, self.getpos()[0])

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag in ("script", "style"):
            self._hidden -= 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._hidden:
            self._hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            line = self.getpos()[0] + data[: len(data) - len(data.lstrip())].count("\n")
            self._keep(data, line)

    def _keep(self, text: str, line: int) -> None:
        shown = " ".join(text.replace(_HOLE, " ").split())
        if _LETTER.search(_NAMES.sub("", shown)):
            self.found.append((line, shown))


def unmarked_text(source: str, name: str = "<template>") -> list[Unmarked]:
    """Text of a Django template that a person reads and that no {% translate %} or
    {% blocktranslate %} marks: text with a letter in it, outside tags, comments, variables and
    the HTML that is not read (attributes but a few, <script>, <style>). A variable's shown
    literal (`default:"none"`) counts too; `default:_("none")` is marked."""
    found: list[Unmarked] = []
    skeleton: list[str] = []
    closing: str | None = None
    for token, (start, end) in ((t, t.position) for t in DebugLexer(source).tokenize()):
        raw = source[start:end]
        words = token.contents.split()
        if closing is not None:
            if token.token_type == TokenType.BLOCK and words and words[0] == closing:
                closing = None
            skeleton.append(_HOLE + "\n" * raw.count("\n"))
            continue
        if token.token_type == TokenType.TEXT:
            skeleton.append(raw)
            continue
        if token.token_type == TokenType.BLOCK and words:
            closing = _TRANSLATED_BLOCKS.get(words[0]) or _UNREAD_BLOCKS.get(words[0])
        if token.token_type == TokenType.VAR:
            for literal in _SHOWN_ARGUMENT.findall(token.contents):
                if _LETTER.search(_NAMES.sub("", literal)):
                    found.append(Unmarked(name, token.lineno, literal))
        skeleton.append(_HOLE + "\n" * raw.count("\n"))
    reader = _ReadText()
    reader.feed("".join(skeleton))
    reader.close()
    found += [Unmarked(name, line, text) for line, text in reader.found]
    return sorted(found, key=lambda unmarked: unmarked.line)


def templates_under(entries: Iterable[str]) -> Iterator[Path]:
    for entry in entries:
        path = ROOT / entry
        found = (
            [path]
            if path.is_file()
            else [*sorted(path.rglob("*.html")), *sorted(path.rglob("*.txt"))]
        )
        yield from (
            template
            for template in found
            if str(template.relative_to(ROOT)) not in WRITTEN_IN_ONE_LANGUAGE
        )


def unmarked_in(entries: Iterable[str]) -> list[Unmarked]:
    return [
        unmarked
        for path in templates_under(entries)
        for unmarked in unmarked_text(path.read_text(), str(path.relative_to(ROOT)))
    ]


def test_every_template_string_is_marked_for_translation():
    assert all((ROOT / entry).exists() for entry in CHECKED_TEMPLATE_DIRS), CHECKED_TEMPLATE_DIRS
    assert all((ROOT / letter).is_file() for letter in WRITTEN_IN_ONE_LANGUAGE)
    assert len(list(templates_under(CHECKED_TEMPLATE_DIRS))) >= 30
    unmarked = unmarked_in(CHECKED_TEMPLATE_DIRS)
    assert not unmarked, "Template text not marked for translation ({% translate %}):\n" + (
        "\n".join(map(str, unmarked))
    )


def test_every_templates_folder_of_the_repository_is_checked():
    folders = {
        str(folder.relative_to(ROOT))
        for folder in ROOT.rglob("templates")
        if folder.is_dir() and not set(folder.relative_to(ROOT).parts) & set(NOT_SCANNED)
    }
    assert folders == set(ALL_TEMPLATE_DIRS)
    assert set(CHECKED_TEMPLATE_DIRS) == set(ALL_TEMPLATE_DIRS)


def test_the_marking_check_finds_unmarked_text_and_accepts_marked_text():
    template = (
        "{% load i18n %}{% comment %}Not shown.{% endcomment %}\n"
        '<h1 class="title">Decision</h1>\n'
        '<p>{% translate "Decided at" %} {{ consent.decided_at }} — 12:00 ({{ zone }})</p>\n'
        "<p>{% blocktranslate with n=count %}{{ n }} kept{% endblocktranslate %}</p>\n"
        '<input type="submit" value="Save"><input type="hidden" name="next" value="admin">\n'
        '<a href="{% url "admin:index" %}" title="{% translate "Home" %}">{{ home }}</a>\n'
        '<td>{{ operator|default:"nobody" }}</td><td>{{ operator|default:_("nobody") }}</td>\n'
        '<img alt="Logo"><script src="x.js"></script>{# a note #}\n'
        "<p>{{ count }} minutes</p>\n"
        '<footer>Custodia · {{ site_title|default:"Custodia" }}</footer>'
    )
    assert [(found.line, found.text) for found in unmarked_text(template)] == [
        (2, "Decision"),
        (5, "Save"),
        (7, '"nobody"'),
        (8, "Logo"),
        (9, "minutes"),
    ]


# --- the language of the answers: the browser's, or the person's choice ---------------------------


def test_the_switcher_is_a_plain_form_to_set_language_listing_every_language():
    request = RequestFactory().get("/admin/compliance/?o=1", HTTP_ACCEPT_LANGUAGE="fr")
    request.LANGUAGE_CODE = "fr"
    from django.utils import translation

    with translation.override("fr"):
        html = render_to_string("admin/language_switcher.html", request=request)
    assert '<form action="/i18n/setlang/" method="post"' in html
    assert 'name="csrfmiddlewaretoken"' in html
    assert '<input type="hidden" name="next" value="/admin/compliance/?o=1">' in html
    options = re.findall(r'<option value="(\w+)" lang="\w+"( selected)?>([^<]+)</option>', html)
    assert options == [
        ("en", "", "English"),
        ("es", "", "Español"),
        ("fr", " selected", "Français"),
    ]
    assert '<label for="language-switcher-language">Langue</label>' in html
    assert ">Changer de langue</button>" in html
    assert "style=" not in html and "<script" not in html


@pytest.mark.parametrize(
    ("language", "password", "sign_in"),
    [("es", "Contraseña", "Iniciar sesión"), ("fr", "Mot de passe", "Connexion")],
)
def test_the_sign_in_page_speaks_the_browser_s_language(client, language, password, sign_in):
    page = client.get("/admin/login/", HTTP_ACCEPT_LANGUAGE=f"{language},en;q=0.5")
    html = page.content.decode()
    assert page.status_code == 200
    assert f'<html lang="{language}"' in html
    assert password in html and sign_in in html
    assert page["Content-Language"] == language


def test_a_browser_asking_for_an_untranslated_language_reads_english(client):
    html = client.get("/admin/login/", HTTP_ACCEPT_LANGUAGE="de-DE,de;q=0.9").content.decode()
    assert '<html lang="en"' in html and "Password" in html


@pytest.mark.parametrize(
    ("language", "heading", "empty"),
    [
        ("es", "Incidentes abiertos", "Ningún incidente abierto."),
        ("fr", "Incidents ouverts", "Aucun incident ouvert."),
    ],
)
def test_the_index_speaks_the_browser_s_language(cast, login, language, heading, empty):
    html = login(cast.alice).get("/admin/", HTTP_ACCEPT_LANGUAGE=language).content.decode()
    assert heading in html and empty in html
    assert "Open incidents" not in html


def test_the_person_s_choice_sticks_and_outweighs_the_browser(cast, login):
    client = login(cast.alice)
    chosen = client.post("/i18n/setlang/", {"language": "fr", "next": "/admin/"})
    assert chosen.status_code == 302 and chosen["Location"] == "/admin/"
    cookie = chosen.cookies[settings.LANGUAGE_COOKIE_NAME]
    assert cookie.value == "fr"
    assert cookie["max-age"] == settings.LANGUAGE_COOKIE_AGE and cookie["httponly"]
    assert "Incidents ouverts" in client.get("/admin/").content.decode()
    spanish_browser = client.get("/admin/", HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert "Incidents ouverts" in spanish_browser
    client.post("/i18n/setlang/", {"language": "es", "next": "/admin/"})
    assert "Incidentes abiertos" in client.get("/admin/").content.decode()


def test_the_choice_is_kept_on_the_account_and_follows_the_person_to_another_browser(cast, login):
    from django.test import Client

    from signin.models import LanguagePreference

    login(cast.alice).post("/i18n/setlang/", {"language": "fr", "next": "/admin/"})
    assert LanguagePreference.objects.get(user=cast.alice).language == "fr"
    # A forged language the portal does not have changes nothing on the account.
    login(cast.alice).post("/i18n/setlang/", {"language": "de", "next": "/admin/"})
    assert LanguagePreference.objects.get(user=cast.alice).language == "fr"
    # Another browser (a Spanish one) where alice signs in: her choice, not the browser's.
    browser = Client(HTTP_ACCEPT_LANGUAGE="es")
    signed_in = browser.post(
        "/admin/login/", {"username": "alice", "password": "custodia-demo", "next": "/admin/"}
    )
    assert signed_in.status_code == 302
    assert signed_in.cookies[settings.LANGUAGE_COOKIE_NAME].value == "fr"
    # Someone signed out choosing a language keeps it in their browser only.
    Client().post("/i18n/setlang/", {"language": "es", "next": "/admin/login/"})
    assert LanguagePreference.objects.count() == 1


def test_the_next_person_at_a_shared_workstation_reads_the_browser_s_language(cast, settings):
    """Signing out, or a session ended for idleness, takes the language with the person: the
    next one to sign in without a choice of their own reads the browser's language, not the
    last person's choice."""
    import time

    from django.test import Client

    from signin.middleware import LAST_ACTIVITY

    settings.OTP_REQUIRED = False
    workstation = Client()

    def sign_in(username: str) -> None:
        signed_in = workstation.post(
            "/admin/login/", {"username": username, "password": "custodia-demo", "next": "/"}
        )
        assert signed_in.status_code == 302

    def language() -> str:
        return workstation.get("/admin/").content.decode().split('<html lang="')[1][:2]

    sign_in("alice")
    workstation.post("/i18n/setlang/", {"language": "es", "next": "/admin/"})
    assert language() == "es"
    # A GET of the sign-out page signs nobody out (405), and keeps the language.
    not_signed_out = workstation.get("/admin/logout/")
    assert not_signed_out.status_code == 405
    assert settings.LANGUAGE_COOKIE_NAME not in not_signed_out.cookies
    assert language() == "es"
    signed_out = workstation.post("/admin/logout/")
    assert signed_out.cookies[settings.LANGUAGE_COOKIE_NAME]["max-age"] == 0
    sign_in("dave")
    assert language() == "en"
    workstation.post("/admin/logout/")

    sign_in("alice")  # her Spanish comes back with her
    assert language() == "es"
    session = workstation.session
    session[LAST_ACTIVITY] = int(time.time()) - settings.SESSION_IDLE_MINUTES * 60 - 1
    session.save()
    expired = workstation.get("/admin/")
    assert expired.cookies[settings.LANGUAGE_COOKIE_NAME]["max-age"] == 0
    sign_in("dave")
    assert language() == "en"


def test_a_language_the_portal_does_not_have_is_not_used(client):
    """Django knows German, the portal does not (LANGUAGES): a forged choice of it is set but
    ignored, and the browser's language or English applies."""
    client.post("/i18n/setlang/", {"language": "de", "next": "/admin/login/"})
    assert '<html lang="en"' in client.get("/admin/login/").content.decode()
    spanish = client.get("/admin/login/", HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert '<html lang="es"' in spanish


def test_a_person_between_the_two_factors_may_change_language(cast, client, settings):
    """The second-factor pages show the header's switcher: choosing a language there is not
    sent back to the second-factor page unheard. The password alone does not change the
    account's choice (the language of the mail sent to it), only this browser's cookie."""
    from signin.models import LanguagePreference

    settings.OTP_REQUIRED = True
    client.force_login(cast.alice)
    assert client.get("/admin/").status_code == 302  # waits for the second factor
    chosen = client.post("/i18n/setlang/", {"language": "es", "next": "/signin/two-factor/enrol/"})
    assert chosen["Location"] == "/signin/two-factor/enrol/"
    assert chosen.cookies[settings.LANGUAGE_COOKIE_NAME].value == "es"
    page = client.get("/signin/two-factor/enrol/").content.decode()
    assert "Configurar el inicio de sesión con doble factor" in page
    assert not LanguagePreference.objects.filter(user=cast.alice).exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("accept_language", "error"),
    [
        ("", "an API key is required: Authorization: Bearer <API key>"),
        ("es", "se requiere una clave de API: Authorization: Bearer <clave de API>"),
        ("fr", "une clé d'API est requise\u00a0: Authorization: Bearer <clé d'API>"),
    ],
)
def test_api_errors_follow_accept_language_and_the_field_stays_as_it_is(
    client, accept_language, error
):
    headers = {"HTTP_ACCEPT_LANGUAGE": accept_language} if accept_language else {}
    answer = client.post("/api/v1/consents", {}, **headers)
    assert answer.status_code == 401
    assert answer.json() == {"error": error, "field": "Authorization"}
