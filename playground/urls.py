from django.urls import path
from django.views.generic import TemplateView

urlpatterns = [
    path("playground", TemplateView.as_view(template_name="playground/index.html"), name="playground"),
]
