"""URLs of the realtime app, mounted at /broadcasting/."""

from django.urls import path

from realtime import views

urlpatterns = [
    path("auth", views.ChannelAuthView.as_view(), name="realtime-auth"),
    path("history", views.HistoryView.as_view(), name="realtime-history"),
]
