"""The helpdesk API's routes, mounted under /api/ by opsproject/urls.py."""

from rest_framework.routers import SimpleRouter

from helpdesk.views import TicketViewSet

router = SimpleRouter()
router.register("tickets", TicketViewSet, basename="ticket")

urlpatterns = router.urls
