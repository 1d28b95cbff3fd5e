"""What the mailer alone spends per event: events published straight to its queue.

    .venv/bin/python bench/mailer_intake.py [--events 5000] [--rate 1000]

`bench/event_latency.py` measures the whole path, where members and its RPC
callers take most of the machine; this one leaves them out, to see what the
subscriber and the postman cost: a fresh vhost and data dir (as
event_latency.py makes them), `umpnet migrate`, the mailer alone (`umpnet
serve mailer`), then --events `members.EmailVerificationRequested` envelopes
published to the `members.events` exchange at --rate a second (0: as fast as
one publisher goes), each to its own address. Measured from the first publish
until every email is queued and its `.eml` written: the mailer's CPU and
RabbitMQ's (shared: others' use is in it), per event, and when the last email
was queued and written.
"""
import warnings

warnings.filterwarnings("ignore", message=r"(?s).*Eventlet is deprecated")

import eventlet  # noqa: E402

eventlet.monkey_patch()

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from datetime import datetime, timezone  # noqa: E402

from kombu import Connection  # noqa: E402

from umpnet_kernel.topology import events_exchange  # noqa: E402

from event_latency import EVENT_TYPE, CpuMeter, Platform, load_average, machine, process_seconds, query  # noqa: E402


def arguments():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--rate", type=float, default=1000.0, help="events per second (0: as fast as possible)")
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--keep", action="store_true")
    return parser.parse_args()


def envelope(n: int) -> dict:
    member_id = str(uuid.uuid4())
    return {"event_id": str(uuid.uuid4()), "event_type": EVENT_TYPE, "schema_version": 2,
            "stream_id": f"member-{member_id}", "stream_version": 3, "position": n + 1,
            "occurred_at": datetime.now(timezone.utc).isoformat(), "actor_id": None,
            "correlation_id": None, "causation_id": None,
            "data": {"member_id": member_id, "email": f"intake{n}@example.org", "first_name": "Camille",
                     "link_nonce": uuid.uuid4().hex}}


def counts(services: Platform) -> tuple[int, int]:
    (queued, sent), = query(services.db_path("mailer"),
                            "SELECT count(*), coalesce(sum(status = 'sent'), 0) FROM emails")
    return queued, sent


def main() -> int:
    args = arguments()
    print(f"machine: {machine()}; load average {load_average()} before the run")
    with Platform(args.keep) as services:
        services.migrate()
        services.start("mailer")
        services.wait_healthy("mailer")
        meter = CpuMeter({"mailer": services.processes["mailer"].pid})
        exchange = events_exchange("members")
        with Connection(services.amqp_uri) as conn:
            producer = conn.Producer(exchange=exchange)
            mailer_pid = services.processes["mailer"].pid
            meter.start()
            mailer_at_start = process_seconds(mailer_pid)
            began = time.monotonic()
            for n in range(args.events):
                if args.rate:
                    delay = began + n / args.rate - time.monotonic()
                    if delay > 0:
                        eventlet.sleep(delay)
                producer.publish(envelope(n), routing_key=EVENT_TYPE, serializer="json", delivery_mode=2)
            published = time.monotonic() - began
            meter.load_ended()
            queued_at = None
            deadline = time.monotonic() + args.timeout
            while True:
                queued, sent = counts(services)
                if queued >= args.events and queued_at is None:
                    queued_at = time.monotonic() - began
                    intake = process_seconds(mailer_pid) - mailer_at_start  # with the deliveries made so far
                    sent_then = sent
                if sent >= args.events:
                    break
                if time.monotonic() > deadline:
                    print(f"TIMED OUT: {queued} queued, {sent} sent of {args.events}")
                    return 1
                eventlet.sleep(0.05)
            meter.work_done()
            done = time.monotonic() - began
        print(f"published {args.events} events in {published:.2f} s ({args.events / published:.0f}/s); "
              f"all queued after {queued_at:.2f} s, all written after {done:.2f} s")

        print(f"mailer CPU until every email was queued: {intake / args.events * 1000:.2f} ms per event "
              f"(the subscriber, and the postman's deliveries meanwhile: {sent_then} written by then)")
        report = meter.report(args.events)
        print(report.replace("members + mailer + rabbitmq", "mailer + rabbitmq"))
        print(f"load average {load_average()} after")
    return 0


if __name__ == "__main__":
    sys.exit(main())
