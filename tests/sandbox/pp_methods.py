"""The two provisioning methods of Practice Protect's Office 365 app (reference practice_protect.md section 12).

- ``service_account`` (the older method, seeds 000 and 002; the sandbox's default): the sync signs in as the Office 365
  service account, which must hold Global Administrator; it writes the UPN, names, display name, usage location and
  immutable id, the proxy addresses from the proxyAddresses additional attribute, and a licence of the app's SKU when a
  seat is free.
- ``token`` (token-based provisioning, which Practice Protect's knowledge base requires for new tenants): the sync signs
  in with an Entra ID app registration (its client id in the app's provisioning settings, ``client_id``) holding Microsoft
  Graph application permissions with admin consent. Practice Protect then writes only what it controls - display name,
  location (usageLocation), immutable id and the primary address/UPN - and never aliases (proxy addresses) nor licences,
  which Microsoft 365 owns ("Controlled in Microsoft 365 (Will Not Overwrite)").

The method is the realism knob ``pp_provisioning_method`` (``PATCH /_sandbox/config``), so that a test switches the
tenant between the two. UNCONFIRMED: the permissions the real sync needs (the knowledge base's list was not captured):
the sandbox asks for one permission that lets an application write users (``TOKEN_WRITE_USERS``).
"""

SERVICE_ACCOUNT = "service_account"
TOKEN = "token"
METHODS = (SERVICE_ACCOUNT, TOKEN)
TOKEN_WRITE_USERS = ("User.ReadWrite.All", "Directory.ReadWrite.All")


def method(engine):
    return engine.graph.config.get("pp_provisioning_method") or SERVICE_ACCOUNT


def token_problem(engine, app):
    """(reason, message) when the app registration the Office 365 app names cannot run provisioning, else None."""
    prov = app.get("_prov") or {}
    client_id = (prov.get("client_id") or "").strip().lower()
    registrations = engine.graph.registrations
    if not client_id:
        return ("AppRegistrationNotConfigured",
                "Token-based provisioning is selected, but the Office 365 application has no Entra ID application (client) id. Register the "
                "application in Microsoft 365 (the app_registration role), then enter its client id and secret in the Office 365 application.")
    registration = registrations.application_by_app_id(client_id)
    if registration is None or registrations.principal_of(client_id) is None:
        return ("AppRegistrationMissing",
                "The Entra ID application %s that the Office 365 application signs in with does not exist in Microsoft 365 (or has no "
                "service principal). Register it again and update the client id and secret in Practice Protect." % client_id)
    if not registration["passwordCredentials"] and not registration["keyCredentials"]:
        return ("AppRegistrationNoCredential",
                "The Entra ID application %s has no client secret or certificate, so Practice Protect cannot sign in with it." % client_id)
    if not registrations.granted(client_id) & set(TOKEN_WRITE_USERS):
        return ("AppRegistrationPermission",
                "The Entra ID application %s lacks a Microsoft Graph application permission to write users (any one of %s, with admin "
                "consent), which token-based provisioning needs." % (client_id, ", ".join(TOKEN_WRITE_USERS)))
    return None
