"""Members and mailer over the real RabbitMQ: a sign-up becomes exactly one email."""
import email
import email.policy
import glob
import os
from urllib.parse import parse_qs, urlparse

import pytest
from nameko.standalone.rpc import ServiceRpcProxy

from mailer.service import MailerService
from members.service import MembersService
from umpnet_kernel.nameko import declare_subscriptions

from ..conftest import wait_until

pytestmark = pytest.mark.integration


def sign_up(rpc, n):
    return rpc.register(
        {
            "email": f"Person{n}@Example.org",
            "password": "Correct-horse-9",
            "first_name": "Camille",
            "last_name": f"Martin{n}",
            "postcode": "69003",
        }
    )


def mail_files(config):
    return sorted(glob.glob(os.path.join(config["DATA_DIR"], "mail", "*.eml")))


def read(path):
    return email.message_from_bytes(open(path, "rb").read(), policy=email.policy.default)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_sign_up_sends_one_verification_email_whose_link_verifies(run_service, platform_config, backend):
    run_service(MailerService, backend)
    run_service(MembersService, backend)
    with ServiceRpcProxy("members", platform_config) as members:
        assert sign_up(members, 1) == {"status": "pending_verification"}
        (path,) = wait_until(lambda: mail_files(platform_config))
        message = read(path)
        assert message["To"] == "Person1@Example.org"
        text = message.get_body(("plain",)).get_content()
        link = next(word for word in text.split() if word.startswith("http://testserver/verify?"))
        token = parse_qs(urlparse(link).query)["token"][0]
        verified = members.verify_email(token)
        assert verified["email_verified"] is True
        assert members.get_own_profile(verified["member_id"])["email_verified"] is True


def test_signing_up_again_with_a_registered_address_tells_its_owner_without_a_token(run_service, platform_config):
    run_service(MailerService)
    run_service(MembersService)
    with ServiceRpcProxy("members", platform_config) as members:
        first = sign_up(members, 1)
        wait_until(lambda: len(mail_files(platform_config)) == 1)
        assert sign_up(members, 1) == first  # the caller learns nothing
        wait_until(lambda: len(mail_files(platform_config)) == 2)
    subjects = sorted(read(p)["Subject"] for p in mail_files(platform_config))
    assert subjects == ["Confirmez votre adresse e-mail", "Vous avez déjà un compte"]
    (notice,) = [read(p) for p in mail_files(platform_config) if read(p)["Subject"] == "Vous avez déjà un compte"]
    text = notice.get_body(("plain",)).get_content()
    assert "http://testserver/connexion" in text and "http://testserver/mot-de-passe-oublie" in text
    assert "token" not in text


def test_emails_for_sign_ups_made_while_the_mailer_was_down_are_sent_once_it_is_back(
    run_service, platform_config
):
    # The topology exists before anyone publishes (as `umpnet migrate` does it).
    declare_subscriptions(MailerService, platform_config)
    run_service(MembersService)
    with ServiceRpcProxy("members", platform_config) as members:
        for n in range(100):
            sign_up(members, n)
    assert mail_files(platform_config) == []
    run_service(MailerService)
    wait_until(lambda: len(mail_files(platform_config)) >= 100, timeout=60)
    import eventlet

    eventlet.sleep(1)  # anything extra would show up now
    files = mail_files(platform_config)
    assert len(files) == 100
    recipients = {email.message_from_bytes(open(p, "rb").read())["To"] for p in files}
    assert recipients == {f"Person{n}@Example.org" for n in range(100)}


def test_a_password_reset_email_carries_a_link_that_resets_the_password(run_service, platform_config):
    run_service(MailerService)
    run_service(MembersService)
    with ServiceRpcProxy("members", platform_config) as members:
        sign_up(members, 1)
        (path,) = wait_until(lambda: mail_files(platform_config))
        text = read(path).get_body(("plain",)).get_content()
        link = next(word for word in text.split() if word.startswith("http://testserver/verify?"))
        member_id = members.verify_email(parse_qs(urlparse(link).query)["token"][0])["member_id"]

        members.request_password_reset("person1@example.org")
        wait_until(lambda: len(mail_files(platform_config)) == 2)
        (reset,) = [read(p) for p in mail_files(platform_config) if read(p)["Subject"] == "Réinitialisez votre mot de passe"]
        text = reset.get_body(("plain",)).get_content()
        link = next(word for word in text.split() if word.startswith("http://testserver/password-reset?"))
        token = parse_qs(urlparse(link).query)["token"][0]
        assert members.reset_password(token, "Another-horse-42") == {"member_id": member_id}
        assert members.open_session("Person1@Example.org", "Another-horse-42")["member_id"] == member_id
