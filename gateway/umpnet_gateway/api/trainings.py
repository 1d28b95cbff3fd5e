"""The JSON API of online trainings (API.md "Meetings and trainings", issue 10 item 6),
kept by the events service.

    GET  /api/trainings                                  members (candidates' courses: candidates and admins)
    POST /api/trainings                                  national admins -> 201
    GET  /api/trainings/{id}                             members: modules in order, my progress
    POST /api/trainings/{id}/enrolment                   members -> 201; again 409
    POST /api/trainings/{id}/modules/{module_id}/complete   enrolled members, in order -> 200 {progress, completed}
    GET  /api/members/me/trainings                       my enrolments and completion records

Who may do what is the events service's decision, from the caller's roles that
`auth.actor_of` puts in the call context: the gateway only says who calls.
"""
from __future__ import annotations

from .. import training_schemas as schemas
from ..auth import require_actor
from ..http import api, json_body, json_response
from ..openapi import documented
from .lists import paged


class TrainingsApi:
    """Mixed into the gateway service: `self.services` calls the services."""

    @api("GET", "/api/trainings")
    @documented("Online courses, newest first (candidates' courses: candidates and admins only)",
                responses={200: schemas.TrainingList}, auth=True)
    def trainings(self, request):
        require_actor(self.services, request)
        return json_response(paged(self.services, request, "events", "list_trainings"))

    @api("POST", "/api/trainings")
    @documented("Publish a course of ordered modules (national admins)", body=schemas.TrainingRequest,
                responses={201: schemas.Training}, auth=True)
    def publish_training(self, request):
        require_actor(self.services, request)
        data = json_body(request, schemas.TrainingRequest)
        return json_response(self.services.call("events", "publish_training", data), 201)

    @api("GET", "/api/trainings/<id:training_id>")
    @documented("A course with its modules in order, and my progress (quiz answers are never shown)",
                responses={200: schemas.Training}, auth=True)
    def training(self, request, training_id):
        require_actor(self.services, request)
        return json_response(self.services.call("events", "get_training", training_id))

    @api("POST", "/api/trainings/<id:training_id>/enrolment")
    @documented("Enrol in a course (a candidates' course: candidates only)", responses={201: schemas.Training},
                auth=True)
    def enrol(self, request, training_id):
        require_actor(self.services, request)
        return json_response(self.services.call("events", "enrol", training_id), 201)

    @api("POST", "/api/trainings/<id:training_id>/modules/<id:module_id>/complete")
    @documented("Complete the next module (with its quiz's answers); the last one records the completion",
                body=schemas.CompletionRequest, responses={200: schemas.Completion}, auth=True)
    def complete_module(self, request, training_id, module_id):
        require_actor(self.services, request)
        data = json_body(request, schemas.CompletionRequest)
        return json_response(self.services.call("events", "complete_module", training_id, module_id, data))

    @api("GET", "/api/members/me/trainings")
    @documented("My courses, latest enrolment first, with progress and completion records",
                responses={200: schemas.MyTrainingList}, auth=True)
    def my_trainings(self, request):
        actor, _ = require_actor(self.services, request)
        return json_response(paged(self.services, request, "events", "trainings_of", actor["member_id"]))
