"""Two factors: a password, then a code from an authenticator app or a single-use recovery code.
Required of every staff member when OTP_REQUIRED is on (production); optional with it off."""

from __future__ import annotations

import base64
import re

import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice

from audit.models import AuditEvent

from .conftest import current_code, password_sign_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def required(settings):
    settings.OTP_REQUIRED = True


def _enrol(client) -> tuple[TOTPDevice, list[str]]:
    page = client.get("/signin/two-factor/enrol/?next=/admin/")
    assert page.status_code == 200
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page.content.decode()).group(1)
    device = TOTPDevice.objects.get(confirmed=False)
    assert secret == base64.b32encode(device.bin_key).decode()
    done = client.post(
        "/signin/two-factor/enrol/", {"token": current_code(device), "next": "/admin/"}
    )
    assert done.status_code == 200
    codes = re.findall(r"<li><code>([a-z2-7]+)</code></li>", done.content.decode())
    return device, codes


def test_in_production_a_password_alone_leads_to_enrolment_not_the_admin(client, alice, required):
    response = password_sign_in(client, "alice")
    assert response.status_code == 302
    for page in ("/admin/", "/admin/recordings/recording/", "/admin/axes/accessattempt/"):
        refused = client.get(page)
        assert refused.status_code == 302
        assert refused["Location"].startswith("/signin/two-factor/enrol/?next=")


def test_enrolment_shows_a_qr_code_and_the_secret_and_confirms_with_a_first_code(
    client, alice, required
):
    password_sign_in(client, "alice")
    page = client.get("/signin/two-factor/enrol/")
    html = page.content.decode()
    assert "<svg" in html
    device = TOTPDevice.objects.get(user=alice, confirmed=False)
    assert "otpauth://" in device.config_url
    wrong = client.post("/signin/two-factor/enrol/", {"token": "000000"})
    assert wrong.status_code == 400
    assert "not the code the app shows now" in wrong.content.decode()
    assert client.get("/admin/").status_code == 302
    device.refresh_from_db()
    device.throttling_failure_count = 0  # the wrong try above slows the next one down
    device.throttling_failure_timestamp = None
    device.save()
    confirmed = client.post("/signin/two-factor/enrol/", {"token": current_code(device)})
    assert confirmed.status_code == 200
    codes = re.findall(r"<li><code>([a-z2-7]+)</code></li>", confirmed.content.decode())
    assert len(codes) == len(set(codes)) == 10
    assert client.get("/admin/").status_code == 200
    device.refresh_from_db()
    assert device.confirmed
    enrolled = AuditEvent.objects.get(action="auth.two_factor_enrolled")
    assert enrolled.target_id == str(alice.pk)
    assert enrolled.actor_username == "alice"
    assert not any(code in str(enrolled.extra) for code in codes)


def test_recovery_codes_are_shown_once(client, alice, required):
    password_sign_in(client, "alice")
    _, codes = _enrol(client)
    again = client.get("/signin/two-factor/enrol/")
    assert again.status_code == 302
    assert not any(code in again.content.decode() for code in codes)


def test_an_enrolled_person_signs_in_with_a_code_from_the_app(client, alice, required):
    password_sign_in(client, "alice")
    device, _ = _enrol(client)
    client.post("/admin/logout/")
    password_sign_in(client, "alice")
    held = client.get("/admin/recordings/recording/")
    assert held["Location"] == "/signin/two-factor/?next=%2Fadmin%2Frecordings%2Frecording%2F"
    # The code of the next 30-second step: the one used at enrolment cannot be replayed.
    signed_in = client.post(
        "/signin/two-factor/",
        {"token": current_code(device, steps_ahead=1), "next": "/admin/recordings/recording/"},
    )
    assert signed_in.status_code == 302
    assert signed_in["Location"] == "/admin/recordings/recording/"
    assert client.get("/admin/recordings/recording/").status_code == 200
    verified = AuditEvent.objects.filter(action="auth.two_factor_verified").get()
    assert verified.extra == {"method": "authenticator"}


def test_a_wrong_code_is_refused_and_on_the_trail(client, alice, required):
    password_sign_in(client, "alice")
    _enrol(client)
    client.post("/admin/logout/")
    password_sign_in(client, "alice")
    refused = client.post("/signin/two-factor/", {"token": "123456"})
    assert refused.status_code == 400
    assert "not valid" in refused.content.decode()
    assert client.get("/admin/").status_code == 302
    failed = AuditEvent.objects.get(action="auth.two_factor_failed")
    assert failed.outcome == "denied"
    assert failed.target_id == str(alice.pk)


def test_a_recovery_code_signs_in_once(client, alice, required):
    password_sign_in(client, "alice")
    _, codes = _enrol(client)
    client.post("/admin/logout/")
    password_sign_in(client, "alice")
    assert client.post("/signin/two-factor/", {"token": codes[0]}).status_code == 302
    assert client.get("/admin/").status_code == 200
    event = AuditEvent.objects.get(action="auth.two_factor_verified")
    assert event.extra == {"method": "recovery_code", "recovery_codes_left": 9}
    client.post("/admin/logout/")
    password_sign_in(client, "alice")
    assert client.post("/signin/two-factor/", {"token": codes[0]}).status_code == 400
    assert client.get("/admin/").status_code == 302


def test_the_second_factor_guards_pages_outside_the_admin_too(client, alice, required):
    password_sign_in(client, "alice")
    _enrol(client)
    client.post("/admin/logout/")
    password_sign_in(client, "alice")
    for page in ("/recordings/1/listen/", "/compliance/consents/1/receipt/"):
        assert client.get(page).status_code == 302
        assert client.get(page)["Location"].startswith("/signin/two-factor/?next=")


def test_next_never_leads_off_site(client, alice, required):
    password_sign_in(client, "alice")
    device, _ = _enrol(client)
    client.post("/admin/logout/")
    password_sign_in(client, "alice")
    response = client.post(
        "/signin/two-factor/",
        {"token": current_code(device, steps_ahead=1), "next": "https://evil.example/"},
    )
    assert response["Location"] == "/admin/"


def test_with_two_factors_optional_a_password_signs_in(client, alice, settings):
    settings.OTP_REQUIRED = False
    password_sign_in(client, "alice")
    assert client.get("/admin/").status_code == 200


def test_with_two_factors_optional_an_enrolled_person_is_still_asked(client, alice, settings):
    settings.OTP_REQUIRED = False
    password_sign_in(client, "alice")
    _enrol(client)
    client.post("/admin/logout/")
    password_sign_in(client, "alice")
    assert client.get("/admin/")["Location"].startswith("/signin/two-factor/")


def test_the_default_requires_two_factors_exactly_when_debug_is_off():
    from tests.portal.test_settings import manage

    code = "from django.conf import settings; print(settings.OTP_REQUIRED)"

    def required(**variables: str) -> str:
        return manage("shell", "-c", code, **variables).stdout.splitlines()[-1]

    assert required() == "True"
    assert required(DEBUG="true") == "False"
    assert required(OTP_REQUIRED="false") == "False"


def test_a_platform_operator_removes_a_lost_authenticator_and_it_is_on_the_trail(
    client, alice, login, cast, settings
):
    settings.OTP_REQUIRED = True
    password_sign_in(client, "alice")
    device, _ = _enrol(client)
    settings.OTP_REQUIRED = False  # root, who has not enrolled, signs in with a password here
    operator = login(cast.root)
    page = operator.get(f"/admin/otp_totp/totpdevice/{device.pk}/change/")
    assert page.status_code == 200
    assert device.key not in page.content.decode()  # nobody reads a secret back
    for secret_page in ("config", "qrcode"):
        assert (
            operator.get(f"/admin/otp_totp/totpdevice/{device.pk}/{secret_page}/").status_code
            == 403
        )
    assert operator.get(f"/admin/otp_totp/totpdevice/{device.pk}/change/").status_code == 200
    removed = operator.post(f"/admin/otp_totp/totpdevice/{device.pk}/delete/", {"post": "yes"})
    assert removed.status_code == 302
    assert not TOTPDevice.objects.filter(user=alice).exists()
    event = AuditEvent.objects.get(action="auth.two_factor_removed")
    assert (event.actor_username, event.target_id) == ("root", str(alice.pk))


@pytest.mark.parametrize("username", ["alice", "bob", "dave", "erin"])
def test_tenant_staff_never_see_anyone_s_devices(login, cast, username):
    member = login(getattr(cast, username))
    for page in ("/admin/otp_totp/totpdevice/", "/admin/otp_static/staticdevice/"):
        assert member.get(page).status_code == 403
