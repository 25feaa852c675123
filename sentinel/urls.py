"""Site routes. Each app owns its own: `<app>/api/urls.py` under /api/v1/, `<app>/urls.py` at the root."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from console.rq_views import urlpatterns as rq_urlpatterns
from sentinel import health

admin.site.site_header = "Sentinel operations"
admin.site.site_title = "Sentinel"
admin.site.index_title = "Operator console"

api_v1 = [
    path("", include("workspaces.api.urls")),
    path("", include("integrations.api.urls")),
    path("", include("billing.api.urls")),
    path("", include("reviews.api.urls")),
    path("", include("analytics.api.urls")),
    path("", include("queues.api.urls")),
]

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("", include("integrations.urls")),  # /webhooks/github
    path("", include("billing.urls")),  # /webhooks/stripe
    path("", include("queues.urls")),  # /metrics
    # django-rq's views are staff-only; its changing buttons are superuser-only and audited.
    path("admin/rq/", include((rq_urlpatterns(), "django_rq"))),
    path("admin/operations/", include("console.urls")),
    path("admin/", admin.site.urls),
]

handler404 = "sentinel.errors.not_found"
handler500 = "sentinel.errors.server_error"
