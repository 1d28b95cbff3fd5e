"""The trainings' read models, and the queries the use cases read them with.

- `training_courses`: one row per course (its description rendered to sanitised HTML).
- `training_modules`: one row per module, with its place in the course; a quiz's
  questions and choices, never its answers (they stay in the course's stream).
- `training_enrolments`: one row per member and course: the modules completed,
  in order, and the completion. An erased member's rows go (`forget_trainee`),
  live and at the end of every rebuild.

Tables are prefixed `training_`: the meetings' tables live in the same database.
"""
from __future__ import annotations

from sqlalchemy import (
    BigInteger, Boolean, Column, DateTime, Index, Integer, MetaData, String, Table, Text, delete, insert, select,
    update,
)

from umpnet_kernel import jsontext
from umpnet_kernel.paging import PageRequest, paginate
from umpnet_kernel.projections import Projection, handles
from umpnet_kernel.shredding import ForgetSubjects
from umpnet_kernel.throttle import utc_aware

from ..events import (
    ModuleCompleted, TraineeForgotten, TrainingCompleted, TrainingContentWritten, TrainingEnrolled, TrainingPublished,
)
from .markup import render

read_models = MetaData()

courses = Table(
    "training_courses",
    read_models,
    Column("training_id", String(36), primary_key=True),
    Column("title", String(300), nullable=False),
    Column("description", Text, nullable=False),
    Column("description_html", Text, nullable=False),
    Column("candidates_only", Boolean, nullable=False),
    Column("module_count", Integer, nullable=False),
    Column("published_by", String(36), nullable=False),
    Column("published_at", DateTime(timezone=True)),  # None until its TrainingPublished (same transaction)
    Column("position", BigInteger().with_variant(Integer, "sqlite"), nullable=False),  # the order of lists
)
Index("ix_training_courses_position", courses.c.position)

modules = Table(
    "training_modules",
    read_models,
    Column("module_id", String(36), primary_key=True),
    Column("training_id", String(36), nullable=False),
    Column("position", Integer, nullable=False),  # from 0, the order they are completed in
    Column("title", String(300), nullable=False),
    Column("body", Text, nullable=False),
    Column("body_html", Text, nullable=False),
    Column("video_url", String(500)),
    Column("quiz", Text),  # JSON [{question, choices}], no answers; None: no quiz
)
Index("ix_training_modules_course", modules.c.training_id, modules.c.position)

enrolments = Table(
    "training_enrolments",
    read_models,
    Column("training_id", String(36), primary_key=True),
    Column("member_id", String(36), primary_key=True),
    Column("enrolled_at", DateTime(timezone=True), nullable=False),
    Column("completed_modules", Text, nullable=False),  # JSON list of module ids, in order
    Column("completed_count", Integer, nullable=False),
    Column("completed_at", DateTime(timezone=True)),  # the completion record
    Column("position", BigInteger().with_variant(Integer, "sqlite"), nullable=False),
)
Index("ix_training_enrolments_member", enrolments.c.member_id, enrolments.c.position)

_c, _m, _e = courses.c, modules.c, enrolments.c


class TrainingCoursesProjection(Projection):
    name = "training_courses"
    tables = (courses, modules)

    @handles(TrainingContentWritten)
    def _written(self, conn, e: TrainingContentWritten, recorded):
        conn.execute(insert(courses).values(
            training_id=e.training_id, title="", description=e.description, description_html=render(e.description),
            candidates_only=False, module_count=len(e.modules), published_by="", published_at=None,
            position=recorded.position))
        rows = [{"module_id": m["module_id"], "training_id": e.training_id, "position": n, "title": m["title"],
                 "body": m["body"], "body_html": render(m["body"]), "video_url": m.get("video_url"),
                 "quiz": _questions_only(m.get("quiz"))} for n, m in enumerate(e.modules)]
        if rows:
            conn.execute(insert(modules), rows)

    @handles(TrainingPublished)
    def _published(self, conn, e: TrainingPublished, recorded):
        conn.execute(update(courses).where(_c.training_id == e.training_id).values(
            title=e.title, candidates_only=e.candidates_only, module_count=len(e.module_ids),
            published_by=e.published_by, published_at=recorded.meta.occurred_at))


def _questions_only(quiz) -> str | None:
    if not quiz:
        return None
    return jsontext.encode([{"question": q["question"], "choices": list(q["choices"])} for q in quiz])


class TrainingEnrolmentsProjection(Projection):
    name = "training_enrolments"
    tables = (enrolments,)

    @handles(TrainingEnrolled)
    def _enrolled(self, conn, e: TrainingEnrolled, recorded):
        conn.execute(insert(enrolments).values(
            training_id=e.training_id, member_id=e.member_id, enrolled_at=recorded.meta.occurred_at,
            completed_modules="[]", completed_count=0, completed_at=None, position=recorded.position))

    @handles(ModuleCompleted)
    def _module_completed(self, conn, e: ModuleCompleted, recorded):
        key = (_e.training_id == e.training_id) & (_e.member_id == e.member_id)
        done = conn.execute(select(_e.completed_modules).where(key)).scalar()
        if done is None:  # forgotten meanwhile
            return
        completed = [*jsontext.decode(done), e.module_id]
        conn.execute(update(enrolments).where(key).values(
            completed_modules=jsontext.encode(completed), completed_count=len(completed)))

    @handles(TrainingCompleted)
    def _completed(self, conn, e: TrainingCompleted, recorded):
        conn.execute(update(enrolments).where(_e.training_id == e.training_id, _e.member_id == e.member_id)
                     .values(completed_at=recorded.meta.occurred_at))


def forget_trainee(conn, member_id: str) -> None:
    """What an erased member leaves here: nothing (their enrolments and completions go)."""
    conn.execute(delete(enrolments).where(_e.member_id == member_id))


def training_projections() -> list[Projection]:
    """The trainings' projections, the forgetting one last (see `ForgetSubjects`)."""
    return [TrainingCoursesProjection(), TrainingEnrolmentsProjection(),
            ForgetSubjects(TraineeForgotten, "member_id", [forget_trainee])]


# -- queries -------------------------------------------------------------------------
def _iso(moment) -> str | None:
    return utc_aware(moment).isoformat() if moment is not None else None


def course_row(conn, training_id: str) -> dict | None:
    row = conn.execute(select(courses).where(_c.training_id == training_id, _c.published_at.is_not(None))
                       ).mappings().first()
    return dict(row) if row is not None else None


def enrolment_row(conn, training_id: str, member_id: str | None) -> dict | None:
    if not member_id:
        return None
    row = conn.execute(select(enrolments).where(_e.training_id == training_id, _e.member_id == member_id)
                       ).mappings().first()
    return dict(row) if row is not None else None


def progress_of(enrolment: dict | None, module_count: int) -> float:
    if enrolment is None or not module_count:
        return 0.0
    return round(enrolment["completed_count"] / module_count, 4)


def enrolment_view(enrolment: dict | None, module_count: int) -> dict | None:
    if enrolment is None:
        return None
    return {"enrolled_at": _iso(enrolment["enrolled_at"]), "progress": progress_of(enrolment, module_count),
            "completed_modules": jsontext.decode(enrolment["completed_modules"]),
            "completed": enrolment["completed_at"] is not None, "completed_at": _iso(enrolment["completed_at"])}


def course_summary(row: dict, enrolment: dict | None) -> dict:
    return {"id": row["training_id"], "title": row["title"], "description_html": row["description_html"],
            "candidates_only": row["candidates_only"], "module_count": row["module_count"],
            "published_at": _iso(row["published_at"]), "enrolled": enrolment is not None,
            "progress": progress_of(enrolment, row["module_count"]),
            "completed": bool(enrolment and enrolment["completed_at"] is not None)}


def course_view(conn, row: dict, member_id: str | None) -> dict:
    """A course with its modules in order; for a member, their enrolment and what they completed."""
    enrolment = enrolment_row(conn, row["training_id"], member_id)
    done = set(jsontext.decode(enrolment["completed_modules"])) if enrolment else set()
    listed = conn.execute(select(modules).where(_m.training_id == row["training_id"]).order_by(_m.position)
                          ).mappings().all()
    next_module = next((m["module_id"] for m in listed if m["module_id"] not in done), None)
    items = [{"id": m["module_id"], "position": m["position"] + 1, "title": m["title"], "body_html": m["body_html"],
              "video_url": m["video_url"],
              "quiz": {"questions": jsontext.decode(m["quiz"])} if m["quiz"] else None,
              "completed": m["module_id"] in done,
              "available": enrolment is not None and (m["module_id"] in done or m["module_id"] == next_module)}
             for m in listed]
    return {**course_summary(row, enrolment), "description": row["description"], "modules": items,
            "next_module_id": next_module if enrolment is not None else None,
            "enrolment": enrolment_view(enrolment, row["module_count"])}


def list_courses(conn, page: PageRequest, member_id: str | None, with_candidates: bool) -> dict:
    """Newest first; the candidates' courses only when `with_candidates`."""
    query = select(courses).where(_c.published_at.is_not(None))
    if not with_candidates:
        query = query.where(_c.candidates_only.is_(False))
    result = paginate(conn, query, [_c.position.desc()], page)
    ids = [item["training_id"] for item in result.items]
    mine = {}
    if member_id and ids:
        mine = {r["training_id"]: dict(r) for r in conn.execute(select(enrolments).where(
            _e.member_id == member_id, _e.training_id.in_(ids))).mappings()}
    return {"items": [course_summary(item, mine.get(item["training_id"])) for item in result.items],
            "next_cursor": result.next_cursor}


def trainings_of(conn, member_id: str, page: PageRequest) -> dict:
    """A member's enrolments, latest first, with their progress and completion records."""
    query = select(_e.training_id, _e.enrolled_at, _e.completed_count, _e.completed_at, _e.completed_modules,
                   _e.position, _c.title, _c.module_count).join(courses, _c.training_id == _e.training_id).where(
        _e.member_id == member_id)
    result = paginate(conn, query, [_e.position.desc()], page)
    return {"items": [{"training_id": i["training_id"], "title": i["title"], **enrolment_view(i, i["module_count"])}
                      for i in result.items], "next_cursor": result.next_cursor}


def personal_data_of(conn, member_id: str) -> list[dict]:
    rows = conn.execute(select(_e.training_id, _e.enrolled_at, _e.completed_count, _e.completed_at,
                               _e.completed_modules, _c.title, _c.module_count)
                        .join(courses, _c.training_id == _e.training_id)
                        .where(_e.member_id == member_id).order_by(_e.position)).mappings().all()
    return [{"training_id": r["training_id"], "title": r["title"], **enrolment_view(dict(r), r["module_count"])}
            for r in rows]

