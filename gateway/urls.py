from django.urls import path

from gateway import api

urlpatterns = [
    path("chat/completions", api.ChatCompletionsView.as_view(), name="chat-completions"),
    path("embeddings", api.EmbeddingsView.as_view(), name="embeddings"),
]
