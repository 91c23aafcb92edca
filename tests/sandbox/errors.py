"""Microsoft Graph error bodies.

Graph answers every failure with ``{"error": {"code", "message", "details"?, "innerError": {...}}}``
(Graph's concepts/errors.md). Handlers raise ``GraphError``; the Graph app turns it into that body and adds the
request ids of the request being answered.
"""

import datetime

# Messages Graph uses word for word (Graph error docs and user and licence API docs).
NOT_FOUND = "Resource '{key}' does not exist or one of its queried reference-property objects are not present."
INSUFFICIENT_PRIVILEGES = "Insufficient privileges to complete the operation."
INVALID_VALUES = "One or more properties contains invalid values."
UPN_CONFLICT = "Another object with the same value for property userPrincipalName already exists."
PROXY_CONFLICT = "Another object with the same value for property proxyAddresses already exists."
UPN_DOMAIN = ("The domain portion of the userPrincipalName property is invalid. "
              "You must use one of the verified domain names in your organization.")
PASSWORD_COMPLEXITY = "The specified password does not comply with password complexity requirements. Please provide a different password."
SEGMENT_NOT_FOUND = "Resource not found for the segment '{segment}'."


class GraphError(Exception):
    """A Graph error answer: HTTP status, error code, message, optional details and extra headers."""

    def __init__(self, status, code, message, details=None, headers=None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = dict(headers or {})

    def __repr__(self):
        return "GraphError(%r, %r, %r)" % (self.status, self.code, self.message)


def bad_request(message, code="Request_BadRequest", details=None):
    return GraphError(400, code, message, details=details)


def not_found(key):
    return GraphError(404, "Request_ResourceNotFound", NOT_FOUND.format(key=key))


def forbidden():
    return GraphError(403, "Authorization_RequestDenied", INSUFFICIENT_PRIVILEGES)


def unauthorized(message):
    return GraphError(401, "InvalidAuthenticationToken", message)


def segment_not_found(segment):
    return GraphError(400, "BadRequest", SEGMENT_NOT_FOUND.format(segment=segment))


def inner_date(now=None):
    """innerError.date: UTC, whole seconds, no zone suffix (as Graph writes it)."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    return now.strftime("%Y-%m-%dT%H:%M:%S")


def error_body(code, message, request_id, client_request_id, details=None):
    error = {"code": code, "message": message}
    if details:
        error["details"] = details
    error["innerError"] = {"date": inner_date(), "request-id": request_id, "client-request-id": client_request_id}
    return {"error": error}


def throttled_body(request_id, client_request_id):
    """The 429 body of Graph's throttling docs, key order included, plus the client request id."""
    return {"error": {
        "code": "TooManyRequests",
        "innerError": {
            "code": "429",
            "date": inner_date(),
            "message": "Please retry after",
            "request-id": request_id,
            "status": "429",
            "client-request-id": client_request_id,
        },
        "message": "Please retry again later.",
    }}


# Bodies of injected server-side failures. The codes are the ones Graph documents in its error list
# (concepts/errors.md); the wording of the messages is UNCONFIRMED.
FAULT_ERRORS = {
    500: ("InternalServerError", "An internal server error occurred."),
    502: ("BadGateway", "Bad gateway."),
    503: ("serviceNotAvailable", "The service is temporarily unavailable. Please retry after the time in the Retry-After header."),
    504: ("GatewayTimeout", "The gateway did not receive a timely response from the upstream server."),
}


def fault_body(status, request_id, client_request_id):
    if status == 429:
        return throttled_body(request_id, client_request_id)
    code, message = FAULT_ERRORS.get(status, ("UnknownError", "An unknown error occurred."))
    return error_body(code, message, request_id, client_request_id)
