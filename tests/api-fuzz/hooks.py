"""schemathesis hooks of the API fuzz run (loaded through SCHEMATHESIS_HOOKS by run.mjs).

POST /oauth/token takes the client credentials either by HTTP Basic or as client_id and
client_secret in the form, never both (RFC 6749 section 2.3; the Worker answers 400
invalid_request). OpenAPI cannot tie a security scheme to the absence of two form fields, so a
generated case may carry both, which would be a schema-valid request the API rightly refuses. A
client that puts its credentials in the form does not also send Basic: when a generated form
carries client_id or client_secret, the Authorization header that schemathesis added for the
clientBasic scheme is removed. Nothing else is changed; every other case goes out as generated.
"""

import schemathesis


@schemathesis.hook
def before_call(context, case, kwargs):
    if case.operation.path != "/oauth/token" or case.method.upper() != "POST":
        return
    body = case.body
    if not isinstance(body, dict) or not ({"client_id", "client_secret", "client_assertion", "client_assertion_type"} & body.keys()):
        return
    if case.headers:
        for name in [h for h in case.headers if h.lower() == "authorization"]:
            del case.headers[name]
