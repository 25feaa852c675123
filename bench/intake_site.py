"""URLs served by the intake benchmark: the real site plus the two same-run baselines.

- `/bench/bare`: checks the signature, answers 202. The cost of Django + HMAC alone.
- `/bench/floor`: checks the signature, INSERTs one row (delivery id + body as jsonb) and LPUSHes
  the delivery id to Redis, answers 202: the floor cost of a durable intake.
"""

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from integrations.github import signatures
from queues.connection import get_redis
from sentinel.urls import urlpatterns as site_urlpatterns

FLOOR_TABLE = "bench_intake_floor"
FLOOR_LIST = "bench:intake:floor"


def _verified_body(request: HttpRequest) -> bytes | None:
    body = request.read(settings.GITHUB_WEBHOOK_MAX_BYTES + 1)
    if not signatures.verify(settings.GITHUB_WEBHOOK_SECRET, body, request.headers.get("X-Hub-Signature-256")):
        return None
    return body


@csrf_exempt
def bare(request: HttpRequest) -> HttpResponse:
    if _verified_body(request) is None:
        return HttpResponse(status=401)
    return HttpResponse(status=202)


@csrf_exempt
def floor(request: HttpRequest) -> HttpResponse:
    body = _verified_body(request)
    if body is None:
        return HttpResponse(status=401)
    delivery = request.headers.get("X-GitHub-Delivery", "")
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {FLOOR_TABLE} (delivery_id, payload) VALUES (%s, %s::jsonb)",  # noqa: S608 - constant
            [delivery, body.decode("utf-8")],
        )
    get_redis().lpush(FLOOR_LIST, delivery)
    return HttpResponse(status=202)


urlpatterns = [path("bench/bare", bare), path("bench/floor", floor), *site_urlpatterns]
