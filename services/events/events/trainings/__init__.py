"""Online trainings (issue 10, item 6): national admins publish courses of ordered
modules (Markdown text, a video link, an optional quiz); members enrol, complete the
modules in order and get a completion record; some courses are for candidates only.

    domain/       the course, a member's enrolment in it, and a forgotten trainee
    limits.py     the one place that owns the limits (the gateway's schemas read them)
    commands.py   one frozen dataclass per use case
    application.py  the use cases, framework-free, on the events service's `Application`
    projections.py  the read models (`training_*` tables) and their queries
    markup.py     Markdown to sanitised HTML (markdown-it-py, then nh3)
    rpc.py        the RPC methods and the erasure subscription, mixed into `EventsService`
"""
