"""Any Accept header is fine (the OpenAI client sends application/octet-stream): always answer JSON for JSON views."""

from rest_framework.negotiation import BaseContentNegotiation


class AnyAcceptNegotiation(BaseContentNegotiation):
    def select_parser(self, request, parsers):
        for parser in parsers:
            if request.content_type.startswith(parser.media_type.split(";")[0]):
                return parser
        return None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type
