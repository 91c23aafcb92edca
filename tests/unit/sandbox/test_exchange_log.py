"""The request log's Exchange entries say whom a cmdlet was about and what a Get-Mailbox answer showed, so that tests can
check the order of events per person (a licence removed only after Exchange showed the mailbox shared)."""

import pytest
import requests

from tests.sandbox.client import start_sandbox

TOM = "c4f7a2d9-5e1b-4c3a-8f6d-9b0e2a7c5d13"
SARAH = "0b6d2f1e-4c3a-4b8e-9d7f-1a2b3c4d5e61"


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    running = start_sandbox(str(tmp_path_factory.mktemp("exchange-log")))
    yield running
    running.stop()


def invoke(sandbox, token, name, **params):
    url = "%s/adminapi/beta/%s/InvokeCommand" % (sandbox.env["M365_EXCHANGE_URL"], sandbox.env["M365_TENANT_ID"])
    with requests.Session() as http:
        http.verify = sandbox.env["M365_CA_PATH"]
        http.trust_env = False
        return http.post(url, json={"CmdletInput": {"CmdletName": name, "Parameters": params}}, headers={"Authorization": "Bearer " + token},
                         timeout=30)


def test_entries_name_the_target_and_what_get_mailbox_showed(sandbox):
    sandbox.reset()
    sandbox.configure(shared_conversion_delay_s=3600)
    token = sandbox.token(resource=sandbox.env["M365_EXCHANGE_URL"])
    mark = sandbox.log()[-1]["seq"] if sandbox.log() else 0
    assert invoke(sandbox, token, "Set-Mailbox", Identity=TOM, Type="Shared").status_code == 200
    assert invoke(sandbox, token, "Get-Mailbox", Identity=TOM).status_code == 200  # the conversion is held back
    sandbox.configure(shared_conversion_delay_s=0)
    assert invoke(sandbox, token, "Get-Mailbox", Identity="tom.baker@northwindacct.com").status_code == 200
    assert invoke(sandbox, token, "Get-Mailbox", Identity="nobody@northwindacct.com").status_code == 404
    everyone = invoke(sandbox, token, "Get-Mailbox", ResultSize="Unlimited").json()["value"]
    entries = [e for e in sandbox.log(since=mark) if e["service"] == "exchange"]
    assert [(e["cmdlet"], e["identity"], e.get("recipient_types")) for e in entries] == [
        ("Set-Mailbox", TOM, None),
        ("Get-Mailbox", TOM, {TOM: "UserMailbox"}),
        ("Get-Mailbox", "tom.baker@northwindacct.com", {TOM: "SharedMailbox"}),
        ("Get-Mailbox", "nobody@northwindacct.com", None),
        ("Get-Mailbox", None, dict((m["ExternalDirectoryObjectId"], m["RecipientTypeDetails"]) for m in everyone)),
    ]
    assert entries[-1]["recipient_types"][SARAH] == "UserMailbox" and len(entries[-1]["recipient_types"]) == len(everyone) > 2
