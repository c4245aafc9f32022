from django.urls import path

from help_desk import inbox, views

urlpatterns = [
    path("", views.home, name="home"),
    path("help/", views.help_page, name="help"),
    path("help/brand/<slug:slug>.css", views.brand_css, name="help-brand-css"),
    path("help/brand/<slug:slug>.json", views.brand_json, name="help-brand-json"),
    path("help/start/", views.start, name="help-start"),
    path("help/offline/", views.offline, name="help-offline"),
    path("help/request/<int:request_id>/", views.request_page, name="help-request"),
    path("help/request/<int:request_id>/transcript.txt", views.transcript, name="help-transcript"),
    path("help/request/<int:request_id>/rate/", views.rate, name="help-rate"),
    path("help/request/<int:request_id>/transcript/mail/", views.mail_transcript, name="help-mail-transcript"),
    path("desk/", views.desk, name="desk"),
    path("desk/inbox/", inbox.inbox, name="desk-inbox"),
    path("desk/inbox/<int:message_id>/", inbox.message, name="desk-inbox-message"),
    path("demo/tax-site/", views.tax_site, name="tax-site"),
]
