from django.urls import path

from demo import views

urlpatterns = [
    path('', views.index),
    path('healthz', views.healthz),
    path('boom/', views.boom),
    path('chain/', views.chain),
    path('cause/', views.cause),
    path('warn/', views.warn),
    path('stock/', views.stock),
    path('slow/', views.slow),
    path('big/', views.big),
    path('json/', views.json_line),
    path('echo/', views.echo),
    path('file/', views.file_view),
]
