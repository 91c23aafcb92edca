"""The benchmark's hosts-as-people inventory: N ``entra_source`` joiners, the leavers among them, and one survey joiner.

Every person is a host (``ansible_connection: local``) whose ``person`` holds a user with the tenant's default licence,
two aliases and one Practice Protect role; the groups select the scenarios:

- ``intake``: the N joiners of S1 and S2 (``-e onboard_hosts=intake``);
- ``leavers``: the first of them, offboarded in S3 (``playbooks/offboard.yml`` runs on ``leavers``);
- ``survey``: one more joiner, onboarded alone in S4 with ``--limit`` over the whole ``people`` group.

The file is JSON (which is YAML), so that writing a thousand people costs nothing and Ansible's YAML inventory plugin
reads it as ``hosts.yml``.
"""

import json
import os

DOMAIN = "northwindacct.com"
LICENCE = "O365_BUSINESS_PREMIUM"
ROLE = "Portal Access"
SURVEY_HOST = "survey.joiner"


def host_name(index, width=4):
    """The inventory name of joiner ``index`` (1-based): joiner0001, ..."""
    return "joiner%0*d" % (width, index)


def person(index, width=4, domain=DOMAIN, role=ROLE):
    """Joiner ``index``: the ``person`` host var the onboard_user role reads."""
    number = "%0*d" % (width, index)
    return {
        "upn": "bench.joiner%s@%s" % (number, domain),
        "given_name": "Bench",
        "surname": "Joiner %s" % number,
        "job_title": "Accountant",
        "department": "Bench",
        "aliases": ["bj%s@%s" % (number, domain), "joiner%s@%s" % (number, domain)],
        "pp_roles": [role],
    }


def survey_person(domain=DOMAIN, role=ROLE):
    """The S4 joiner, onboarded alone."""
    return {
        "upn": "survey.joiner@%s" % domain,
        "given_name": "Survey",
        "surname": "Joiner",
        "job_title": "Accountant",
        "department": "Bench",
        "aliases": ["sj@%s" % domain, "survey@%s" % domain],
        "pp_roles": [role],
    }


def leaver_count(people):
    """How many joiners S3 offboards: a fifth of the intake (200 of 1,000), at least one."""
    return max(1, people // 5)


def build(people, leavers=None):
    """The inventory as a dict: ``people`` joiners in ``intake``, the first ``leavers`` of them also in ``leavers``."""
    if people < 1:
        raise ValueError("people must be at least 1")
    leavers = leaver_count(people) if leavers is None else leavers
    if not 0 <= leavers <= people:
        raise ValueError("leavers must be between 0 and the number of people")
    width = max(4, len(str(people)))
    intake = dict((host_name(i, width), {"person": person(i, width)}) for i in range(1, people + 1))
    leaving = dict((host_name(i, width), {}) for i in range(1, leavers + 1))
    return {
        "all": {
            "vars": {
                "ansible_connection": "local",
                "ansible_python_interpreter": "{{ ansible_playbook_python }}",
                # Tenant settings of every joiner (role onboard_user); no activation mail, so that S1 is the issue's
                # user, licence, aliases, invitation and role, and nothing else.
                "onboard_deployment": "entra_source",
                "onboard_usage_location": "AU",
                "onboard_phone_region": "AU",
                "onboard_default_licenses": [LICENCE],
                "onboard_password_delivery": "none",
                "offboard_deployment": "entra_source",
            },
            "children": {
                "people": {"children": {"intake": {"hosts": intake}, "survey": {"hosts": {SURVEY_HOST: {"person": survey_person()}}}}},
                "leavers": {"hosts": leaving},
            },
        }
    }


def members(inventory, group="intake"):
    """The ``person`` dicts of a group (intake, survey or leavers) of an inventory built by ``build``, in inventory order."""
    children = inventory["all"]["children"]
    people = children["people"]["children"]
    every = dict(people["intake"]["hosts"])
    every.update(people["survey"]["hosts"])
    hosts = people[group]["hosts"] if group in people else children[group]["hosts"]
    return [every[name]["person"] for name in hosts]


def host_names(inventory, group="intake"):
    """The host names of a group of the people (intake or survey), in inventory order."""
    return list(inventory["all"]["children"]["people"]["children"][group]["hosts"])


def write(directory, people, leavers=None):
    """Write ``<directory>/hosts.yml``; returns (path, inventory dict)."""
    inventory = build(people, leavers)
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, "hosts.yml")
    with open(path, "w") as handle:
        json.dump(inventory, handle, indent=1)
        handle.write("\n")
    return path, inventory
