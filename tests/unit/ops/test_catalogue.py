import os

from umpnet_kernel.manifest import service_names
from umpnet_ops.catalogue import render
from umpnet_ops.platform import REPO


def test_the_committed_event_catalogue_is_up_to_date():
    with open(os.path.join(REPO, "docs", "events.md")) as f:
        assert f.read() == render(), "docs/events.md is stale: run `.venv/bin/umpnet catalogue`"


def test_the_catalogue_lists_public_events_only_with_publisher_subscribers_and_personal_fields():
    text = render()
    assert "### `members.MemberRegistered` (version 1)" in text
    assert "consumed by mailer (`on_email_verification_requested`)" in text
    assert "| `email` | `str` | **personal** |" in text
    assert "PasswordSet" not in text and "SessionOpened" not in text and "mailer.EmailQueued" not in text


def test_the_readme_service_table_is_up_to_date():
    from umpnet_ops.catalogue import with_service_table

    with open(os.path.join(REPO, "README.md")) as f:
        readme = f.read()
    assert readme == with_service_table(readme), "README.md's service table is stale: run `.venv/bin/umpnet catalogue`"


def test_the_service_table_has_a_row_per_service_from_its_manifest_and_code():
    from umpnet_ops.catalogue import service_table

    rows = {line.split(" | ")[0].removeprefix("| "): line for line in service_table().splitlines()[2:]}
    assert set(rows) == set(service_names())
    assert rows["members"].startswith("| members | Contact, ExternalIdentity, Invitation, InvitationLink, Member, Session | register, verify_email, ")
    assert "| MemberRegistered, EmailVerificationRequested," in rows["members"]
    # What members consumes: the talent sources of every service (each helper adds its own).
    for consumed in ("debates.ContributionPosted", "debates.SupportGiven", "events.AttendanceRecorded", "events.TrainingCompleted", "petitions.PetitionLaunched", "petitions.PetitionPublished",
                     "petitions.SignatureConfirmed"):
        assert consumed in rows["members"].split(" | ")[4]
    assert rows["members"].endswith("| members, sessions, pending_links, contacts, talents, talent_once, invitations, "
                                   "invitation_links, external_identities, map_members |")
    assert "| debates.ContributionPosted, debates.SupportGiven, " in rows["members"]  # talent sources
    assert "health" not in rows["members"]  # every service's operations are said once, under the table
    # mailer: what it consumes grows with every service that has emails to send; checked item by item
    assert rows["mailer"].startswith("| mailer | Blog, Campaign, OutgoingEmail, PetitionFollower, Recipient | unsubscribe, "
                                     "export_personal_data, create_campaign, send_campaign, campaign_status, "
                                     "campaign_preview, my_campaigns, register_blog, list_blogs | — | ")
    for consumed in ("debates.ContributionPosted", "members.EmailVerificationRequested", "members.MemberErased",
                     "members.MemberRegistered", "events.MeetingPublished", "events.RegistrationConfirmed",
                     "petitions.SignatureRequested", "petitions.MilestoneReached", "members.RolesChanged"):
        assert consumed in rows["mailer"].split(" | ")[4]
    assert rows["mailer"].endswith("| emails, petition_followers, recipients, blogs, campaigns, campaign_deliveries, "
                                   "meeting_notices, meeting_attendees, reply_modes, pending_replies |")
    # events: the trainings' part (the meetings' has its own lines)
    for trainings_part in ("Enrolment", "Trainee", "Training", "publish_training, list_trainings, get_training, enrol, "
                           "complete_module, trainings_of", "TrainingPublished, TrainingEnrolled, ModuleCompleted, "
                           "TrainingCompleted", "members.MemberErased", "training_courses, training_modules, "
                           "training_enrolments"):
        assert trainings_part in rows["events"]
    # events: the meetings' part
    for meetings_part in ("Meeting", "create_meeting, edit_meeting", "MeetingPublished, MeetingChanged",
                          "meetings, meeting_registrations"):
        assert meetings_part in rows["events"]
