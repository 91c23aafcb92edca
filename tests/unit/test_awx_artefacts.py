# -*- coding: utf-8 -*-
# Copyright (c) practiceprotect.m365 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The AWX / Automation Controller artefacts in docs/awx agree with the collection they configure.

- Credential types set exactly the environment variables the modules read as fallbacks, and what AWX injects
  (every env injector is set on every job, empty or not) passes the modules' argument validation.
- Surveys are valid AWX survey specs, and every answer reaches a variable the roles accept.
- Job templates run playbooks that exist, and every name they refer to is created by the same configuration.
- The role sync template's extra variables are options of its role, and its example passes the role's argument spec.
- The execution environment installs this version of the collection with its own requirements.
"""


import functools
import json
import os
import re
import warnings
from pathlib import Path

import pytest
import yaml
from jinja2 import StrictUndefined, meta
from jinja2.sandbox import ImmutableSandboxedEnvironment

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.practiceprotect.m365.plugins.module_utils._connection import (
    M365_AUTH_SPEC,
    PP_AUTH_SPEC,
    PP_CONNECTION_SPEC,
    PP_REQUIRED,
)

ROOT = Path(__file__).resolve().parents[2]
AWX = ROOT / "docs" / "awx"

# A module that talks to Microsoft 365 adds this; environment variables that are set count as given.
MUTUALLY_EXCLUSIVE = [("client_secret", "client_certificate_path")]

# The options each credential type must feed, and nothing else (the env var names come from the argument specs).
M365_CONNECTION = {"tenant_id", "client_id", "authority_url", "graph_url", "exchange_url", "ca_path"}
CREDENTIAL_TYPES = {
    "m365_app": (M365_AUTH_SPEC, M365_CONNECTION | {"client_secret"}),
    "m365_app_certificate": (M365_AUTH_SPEC, M365_CONNECTION | {
        "client_certificate_path", "client_certificate_thumbprint", "client_certificate_password"}),
    "practice_protect": (PP_AUTH_SPEC, set(PP_CONNECTION_SPEC) | {"ca_path"}),
}

PEM = "-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----\n"
# A TLS-inspecting proxy's root, the optional CA bundle of every type.
CA_PEM = "-----BEGIN CERTIFICATE-----\nMIIDproxyroot\n-----END CERTIFICATE-----\n"
SAMPLE_INPUTS = {
    "m365_app": {"tenant_id": "northwindacct.onmicrosoft.com", "client_id": "11111111-2222-3333-4444-555555555555",
                 "client_secret": "s3cret~value"},
    "m365_app_certificate": {"tenant_id": "northwindacct.onmicrosoft.com", "client_id": "11111111-2222-3333-4444-555555555555",
                             "client_certificate": PEM},
    "practice_protect": {"pp_url": "https://northwind.my.practiceprotect.com", "pp_app_id": "ansible",
                         "pp_client_id": "ansible.automation@northwindacct.com", "pp_client_secret": "s3cret~value"},
}
OVERRIDES = {
    "authority_url": "https://login.microsoftonline.us", "graph_url": "https://graph.microsoft.us",
    "exchange_url": "https://outlook.office365.us", "client_certificate_thumbprint": "AB:CD:EF",
    "client_certificate_password": "key-passphrase", "pp_scope": "automation", "ca_bundle": CA_PEM,
}

SURVEY_TYPES = {"text": str, "textarea": str, "password": str, "multiplechoice": str, "multiselect": str,
                "integer": int, "float": (float, int)}
# Survey answer -> role, and the playbook that maps the person's keys to the role's variables.
SURVEY_ROLES = {"single_joiner.json": "onboard_user", "offboard_leaver.json": "offboard_user", "service_account.json": "service_account"}
# Playbooks that arrive with a later change of the collection (their templates wait for a variable).
LATER_PLAYBOOKS = set()
# Job templates without a survey whose extra variables reach a role: template name -> (playbook, role).
EXTRA_VARS_ROLES = {"Practice Protect role sync": ("playbooks/sync.yml", "role_sync")}


# -------------------------------------------------------------------------------------------------------------------
# Helpers


class _UnsafeLoader(yaml.SafeLoader):
    """Reads playbooks that mark strings !unsafe (kept as plain strings here)."""


_UnsafeLoader.add_constructor("!unsafe", lambda loader, node: loader.construct_scalar(node))


def load_yaml(path):
    with open(path, encoding="utf-8") as handle:
        return yaml.load(handle, Loader=_UnsafeLoader)  # nosec - a SafeLoader subclass


def credential_type(name):
    return load_yaml(AWX / "credential_types" / ("%s.yml" % name))


def survey(name):
    with open(AWX / "surveys" / name, encoding="utf-8") as handle:
        return json.load(handle)


@functools.lru_cache(maxsize=None)
def _controller_play():
    return load_yaml(AWX / "controller_config.yml")[0]


def controller_tasks(module):
    """(task, args) of every task of docs/awx/controller_config.yml that calls awx.awx.<module>."""
    return [(task, task["awx.awx." + module]) for task in _controller_play()["tasks"] if "awx.awx." + module in task]


def env_names(spec):
    """{environment variable: option} of an argument spec's env fallbacks."""
    names = {}
    for option, settings in spec.items():
        fallback = settings.get("fallback")
        if fallback:
            for name in fallback[1]:
                names[name] = option
    return names


def referenced_fields(template):
    return meta.find_undeclared_variables(ImmutableSandboxedEnvironment().parse(template)) - {"tower"}


class _Namespace:
    """AWX's `tower` template namespace."""


def awx_inject(cred_type, inputs, private_dir):
    """The environment AWX gives a job for a credential of this type (CredentialType.inject_credential):
    fields left empty are absent from the template namespace, each file injector writes a file only the job
    can read and publishes its path as tower.filename[.<name>], and every env injector is set, even to ''."""
    env = ImmutableSandboxedEnvironment()
    tower = _Namespace()
    namespace = {"tower": tower}
    namespace.update((key, value) for key, value in inputs.items() if value not in ("", None))
    for label, template in cred_type["injectors"].get("file", {}).items():
        path = private_dir / ("tmp_" + label.replace(".", "_"))
        path.write_text(env.from_string(template).render(**namespace), encoding="utf-8")
        path.chmod(0o600)
        if "." in label:
            if not hasattr(tower, "filename"):
                tower.filename = _Namespace()
            setattr(tower.filename, label.split(".", 1)[1], str(path))
        else:
            tower.filename = str(path)
    return {name: env.from_string(template).render(**namespace) for name, template in cred_type["injectors"].get("env", {}).items()}


def validate_with_environment(monkeypatch, spec, environ):
    """Validate an empty task against ``spec`` with only ``environ`` as M365_*/PP_* environment."""
    for name in list(os.environ):
        if name.startswith(("M365_", "PP_")):
            monkeypatch.delenv(name)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    exclusive = [pair for pair in MUTUALLY_EXCLUSIVE if all(option in spec for option in pair)]
    result = ArgumentSpecValidator(spec, mutually_exclusive=exclusive).validate({})
    return result


def role_options(role):
    path = ROOT / "roles" / role / "meta" / "argument_specs.yml"
    if not path.exists():
        pytest.skip("roles/%s/meta/argument_specs.yml does not exist yet; the survey check runs once the role lands" % role)
    return load_yaml(path)["argument_specs"]["main"]["options"]


def option_for(role, options, variable):
    """The role option a survey variable reaches: a role variable itself, or person_<key>, a key of the role's person
    dict (onboard_person.<key>) or a person key the playbook hands to <prefix>_<key> (offboard_<key>)."""
    if variable in options:
        return options[variable]
    if not variable.startswith("person_"):
        return None
    variable = variable[len("person_"):]
    for settings in options.values():
        if settings.get("type") == "dict" and variable in settings.get("options", {}):
            return settings["options"][variable]
    prefix = role.split("_")[0] + "_"
    return options.get(prefix + variable)


def render_person(template, answers):
    """The person an AWX host variable template builds from survey answers, rendered by Ansible itself."""
    import ansible.template
    from ansible.parsing.dataloader import DataLoader
    from ansible.plugins.loader import init_plugin_loader

    with warnings.catch_warnings():  # "already configured" when another test configured it first: the paths are the same
        warnings.simplefilter("ignore")
        init_plugin_loader([str(ROOT / ".build" / "collections")])  # the lookups the template uses (varnames, vars)
    trust = getattr(ansible.template, "trust_as_template", lambda value: value)  # ansible-core 2.19 data tagging
    return ansible.template.Templar(loader=DataLoader(), variables=dict(answers)).template(trust(template))


def survey_host(name):
    tasks = [args for _task, args in controller_tasks("host") if args["name"] == name]
    assert len(tasks) == 1, "controller_config.yml must create the host %s once" % name
    return tasks[0]["variables"]["person"]


# -------------------------------------------------------------------------------------------------------------------
# Credential types


@pytest.mark.parametrize("name", sorted(CREDENTIAL_TYPES))
def test_credential_type_is_valid_for_awx(name):
    """The schema AWX accepts (CredentialTypeInputField / CredentialTypeInjectorField)."""
    ctype = credential_type(name)
    assert set(ctype) == {"name", "description", "kind", "inputs", "injectors"}
    assert ctype["kind"] == "cloud"
    fields = ctype["inputs"]["fields"]
    ids = [field["id"] for field in fields]
    assert len(ids) == len(set(ids)) and len({field["label"] for field in fields}) == len(fields)
    for field in fields:
        assert re.match(r"^[a-zA-Z_][a-zA-Z0-9_]*$", field["id"]) and field["id"] != "tower"
        assert set(field) <= {"id", "label", "type", "secret", "multiline", "help_text", "default", "choices", "format"}
        assert field["type"] in ("string", "boolean")
        assert isinstance(field.get("secret", False), bool) and isinstance(field.get("multiline", False), bool)
    assert set(ctype["inputs"]["required"]) <= set(ids)
    injectors = ctype["injectors"]
    assert set(injectors) <= {"env", "file", "extra_vars"}
    labels = list(injectors.get("file", {}))
    assert "template" not in labels or len(labels) == 1, "single and multi-file syntax cannot be mixed"
    assert all(label == "template" or label.startswith("template.") for label in labels)
    assert not any(name.startswith("ANSIBLE_") for name in injectors.get("env", {}))

    # AWX renders every injector with StrictUndefined and every field set when the type is saved.
    namespace = {field_id: "EXAMPLE" for field_id in ids}
    tower = namespace["tower"] = _Namespace()
    if labels == ["template"]:
        tower.filename = "EXAMPLE_FILENAME"
    elif labels:
        tower.filename = _Namespace()
        for label in labels:
            setattr(tower.filename, label.split(".", 1)[1], "EXAMPLE_FILENAME")
    strict = ImmutableSandboxedEnvironment(undefined=StrictUndefined)
    for kind in ("env", "file", "extra_vars"):
        for template in injectors.get(kind, {}).values():
            strict.from_string(template).render(**namespace)


@pytest.mark.parametrize("name", sorted(CREDENTIAL_TYPES))
def test_credential_type_sets_exactly_the_modules_environment_variables(name):
    spec, options = CREDENTIAL_TYPES[name]
    by_option = {option: env for env, option in env_names(spec).items()}
    assert options <= set(by_option), "the argument spec lost an option: %s" % sorted(options - set(by_option))
    injected = set(credential_type(name)["injectors"]["env"])
    assert injected == {by_option[option] for option in options}


def test_practice_protect_type_requires_what_the_modules_require():
    ctype = credential_type("practice_protect")
    assert set(ctype["inputs"]["required"]) == set(PP_REQUIRED)


@pytest.mark.parametrize("name", sorted(CREDENTIAL_TYPES))
def test_secrets_come_from_secret_fields_and_go_only_to_secret_options(name):
    spec, _options = CREDENTIAL_TYPES[name]
    ctype = credential_type(name)
    secret_fields = {field["id"] for field in ctype["inputs"]["fields"] if field.get("secret")}
    env_option = env_names(spec)
    for env, template in ctype["injectors"]["env"].items():
        fields = referenced_fields(template)
        if spec[env_option[env]].get("no_log"):
            assert fields and fields <= secret_fields, "%s carries a secret but reads %s" % (env, sorted(fields))
        else:
            assert not fields & secret_fields, "%s is not a no_log option but carries %s" % (env, sorted(fields & secret_fields))
    for label, template in ctype["injectors"].get("file", {}).items():
        fields = referenced_fields(template)
        assert fields <= secret_fields or not fields & secret_fields, "file %s mixes secret and plain fields" % label
    assert "extra_vars" not in ctype["injectors"], "extra vars show in the job's details; secrets go to the environment"


@pytest.mark.parametrize("name", sorted(CREDENTIAL_TYPES))
@pytest.mark.parametrize("full", [False, True], ids=["required-fields", "every-field"])
def test_injected_environment_passes_the_modules_validation(monkeypatch, tmp_path, name, full):
    spec, options = CREDENTIAL_TYPES[name]
    ctype = credential_type(name)
    inputs = dict(SAMPLE_INPUTS[name])
    if full:
        inputs.update((field["id"], OVERRIDES[field["id"]]) for field in ctype["inputs"]["fields"] if field["id"] in OVERRIDES)
    environ = awx_inject(ctype, inputs, tmp_path)
    result = validate_with_environment(monkeypatch, spec, environ)
    assert result.error_messages == []
    params = result.validated_parameters
    for option in options:
        if option in inputs:
            assert params[option] == inputs[option]
        elif option in OVERRIDES and full:
            assert params[option] == OVERRIDES[option]
        elif spec[option].get("default") is not None:
            assert params[option] == spec[option]["default"], "an empty %s must give the module its default" % option
        elif option == "client_certificate_path":
            assert Path(params[option]).read_text(encoding="utf-8") == PEM
        elif option == "ca_path" and full:
            assert Path(params[option]).read_text(encoding="utf-8") == CA_PEM
        else:
            assert not params[option], "an empty field must reach %s as an empty value the module ignores" % option


def test_microsoft_365_and_practice_protect_credentials_work_together(monkeypatch, tmp_path):
    """outbound_sync reads both connections; one job carries both credentials."""
    m365 = awx_inject(credential_type("m365_app_certificate"), SAMPLE_INPUTS["m365_app_certificate"], tmp_path)
    pp = awx_inject(credential_type("practice_protect"), SAMPLE_INPUTS["practice_protect"], tmp_path)
    assert not set(m365) & set(pp)
    spec = dict(M365_AUTH_SPEC)
    spec.update(PP_CONNECTION_SPEC)
    result = validate_with_environment(monkeypatch, spec, dict(m365, **pp))
    assert result.error_messages == []
    assert all(result.validated_parameters[option] for option in PP_REQUIRED)


def test_the_two_microsoft_365_types_cannot_be_one(monkeypatch, tmp_path):
    """Why m365_app and m365_app_certificate are separate types: AWX sets every env injector, so one type with
    both would hand the modules an (empty) secret and a certificate path at once, which they refuse."""
    both = dict(awx_inject(credential_type("m365_app"), SAMPLE_INPUTS["m365_app"], tmp_path))
    both["M365_CLIENT_CERTIFICATE_PATH"] = ""
    result = validate_with_environment(monkeypatch, M365_AUTH_SPEC, both)
    assert any("mutually exclusive" in message for message in result.error_messages)


# -------------------------------------------------------------------------------------------------------------------
# Surveys


@pytest.mark.parametrize("name", sorted(SURVEY_ROLES))
def test_survey_is_a_valid_awx_survey_spec(name):
    """The rules of AWX's JobTemplateSurveySpec._validate_spec_data."""
    spec = survey(name)
    assert isinstance(spec["name"], str) and isinstance(spec["description"], str)
    assert isinstance(spec["spec"], list) and spec["spec"]
    variables = set()
    for question in spec["spec"]:
        for key in ("type", "question_name", "variable"):
            assert isinstance(question[key], str) and question[key]
        assert isinstance(question["required"], bool)
        assert isinstance(question.get("question_description", ""), str)
        assert question["variable"] not in variables, "duplicate variable %s" % question["variable"]
        variables.add(question["variable"])
        assert re.match(r"^[a-zA-Z_][a-zA-Z0-9_]*$", question["variable"])
        assert question["type"] in SURVEY_TYPES
        if question.get("default", "") != "":
            assert isinstance(question["default"], SURVEY_TYPES[question["type"]])
        for key in ("min", "max"):
            assert question.get(key) is None or isinstance(question[key], int)
        if question.get("min") is not None and question.get("max") is not None:
            assert question["min"] <= question["max"]
        if question["type"] in ("text", "textarea", "password") and question.get("min"):
            assert question["required"], "an optional question with a minimum length refuses an empty answer"
        if question["type"] in ("multiplechoice", "multiselect"):
            choices = question["choices"]
            choices = choices.splitlines() if isinstance(choices, str) else choices
            assert choices and len(set(choices)) == len(choices)
            defaults = question.get("default", "")
            defaults = defaults.splitlines() if isinstance(defaults, str) else defaults
            assert set(defaults) <= set(choices)
            if question["type"] == "multiplechoice":
                assert len(defaults) <= 1
        else:
            assert "choices" not in question


@pytest.mark.parametrize("name", sorted(SURVEY_ROLES))
def test_survey_variables_are_role_options(name):
    role = SURVEY_ROLES[name]
    options = role_options(role)
    for question in survey(name)["spec"]:
        option = option_for(role, options, question["variable"])
        assert option is not None, "roles/%s does not accept the survey variable %s" % (role, question["variable"])
        if question["type"] in ("multiplechoice", "multiselect"):
            if "choices" in option:
                assert set(question["choices"]) <= set(option["choices"]), question["variable"]
            elif option.get("type") == "bool":
                assert set(question["choices"]) <= {"true", "false"}, question["variable"]
        if option.get("type") in ("int", "float"):
            assert question["type"] in ("integer", "float"), question["variable"]


def person_of(role, template, answers):
    """The person the role's engine reads from an AWX host's template and the survey's answers: the template gives
    every ``person_<key>`` answer as ``<key>``; the engine reads blank answers as not given and text as lists."""
    from ansible_collections.practiceprotect.m365.plugins.plugin_utils._batch_action import answers as read_answers

    person = render_person(template, answers)
    options = role_options(role)
    spec = options["onboard_person"] if role == "onboard_user" else {
        "type": "dict", "options": dict((name[len("offboard_"):], option) for name, option in options.items() if name.startswith("offboard_"))}
    return read_answers(person, spec)


def test_survey_answers_become_the_joiner():
    """The survey host's template turns AWX's answers (multiselect: a list; textarea: lines) into onboard_person."""
    template = survey_host("survey-joiner")
    questions = {question["variable"]: question for question in survey("single_joiner.json")["spec"]}
    assert {name for name in questions if not name.startswith("person_")} == {"onboard_deployment", "onboard_password_delivery"}

    answers = {"person_upn": " jane.citizen@northwindacct.com ", "person_given_name": "Jane", "person_surname": "Citizen", "person_job_title": "",
               "person_employee_type": "Contractor", "person_employee_hire_date": "2027-01-04", "person_mobile_phone": "0412 345 678",
               "person_manager": "sarah.jones@northwindacct.com", "person_alternate_email": None,
               "person_licenses": ["O365_BUSINESS_PREMIUM"], "person_aliases": "jane@northwindacct.com,\r\nj.citizen@northwindacct.com\n",
               "person_pp_roles": "Tax Team\r\n\nPortal Access\n", "person_pp_roles_copy_from": "",
               "person_groups": "Tax Team\nclientservices@northwindacct.com\n", "person_groups_copy_from": "", "onboard_deployment": "entra_source",
               "onboard_password_delivery": "none"}
    assert set(answers) == set(questions)
    person = person_of("onboard_user", template, answers)
    assert person == {"upn": "jane.citizen@northwindacct.com", "given_name": "Jane", "surname": "Citizen",
                      "employee_type": "Contractor", "employee_hire_date": "2027-01-04", "mobile_phone": "0412 345 678",
                      "manager": "sarah.jones@northwindacct.com",
                      "licenses": ["O365_BUSINESS_PREMIUM"], "aliases": ["jane@northwindacct.com", "j.citizen@northwindacct.com"],
                      "pp_roles": ["Tax Team", "Portal Access"], "groups": ["Tax Team", "clientservices@northwindacct.com"]}
    # The settings answers go to the role, not into the person.
    assert "deployment" not in render_person(template, answers) and "onboard_deployment" not in render_person(template, answers)
    # "return" would put the password in a fact, which AWX keeps in its database when fact caching is on.
    assert "return" not in questions["onboard_password_delivery"]["choices"]
    required = {name: "x" for name, question in questions.items() if question["required"]}
    assert person_of("onboard_user", template, required) == {"upn": "x", "given_name": "x", "surname": "x"}
    # An AWX that sends a multiselect answer as lines still gives a list.
    lines = person_of("onboard_user", template, dict(required, person_licenses="SPB\nO365_BUSINESS_PREMIUM"))
    assert lines["licenses"] == ["SPB", "O365_BUSINESS_PREMIUM"]
    # Any new question named person_<key> reaches the person without a change to the template.
    assert person_of("onboard_user", template, dict(required, person_department="Tax"))["department"] == "Tax"

    person_spec = role_options("onboard_user")["onboard_person"]["options"]
    for key, value in person.items():
        assert key in person_spec
        assert isinstance(value, list) == (person_spec[key].get("type") == "list"), key


def test_survey_answers_become_the_leaver():
    template = survey_host("survey-leaver")
    questions = {question["variable"] for question in survey("offboard_leaver.json")["spec"]}
    assert all(name.startswith("person_") for name in questions)
    person = person_of("offboard_user", template, {"person_upn": "tom.baker@northwindacct.com", "person_forward_to": "sarah.jones@northwindacct.com",
                                                   "person_full_access_to": "sarah.jones@northwindacct.com, mia.nguyen@northwindacct.com"})
    assert person == {"upn": "tom.baker@northwindacct.com", "forward_to": "sarah.jones@northwindacct.com",
                      "full_access_to": ["sarah.jones@northwindacct.com", "mia.nguyen@northwindacct.com"]}
    assert person_of("offboard_user", template, {"person_upn": "tom.baker@northwindacct.com", "person_forward_to": ""}) == {
        "upn": "tom.baker@northwindacct.com"}
    text = (ROOT / "playbooks" / "offboard.yml").read_text(encoding="utf-8")
    for key in person:
        assert "person.%s" % key in text, "playbooks/offboard.yml does not read person.%s" % key


# -------------------------------------------------------------------------------------------------------------------
# Controller configuration


def test_job_templates_run_playbooks_that_exist():
    templates = controller_tasks("job_template")
    assert {args["name"] for _task, args in templates} == {
        "Onboard joiners", "Onboard one joiner", "Offboard leaver", "Service account", "Practice Protect role sync"}
    for task, args in templates:
        playbook = args["playbook"]
        if playbook in LATER_PLAYBOOKS:
            assert "sync_playbook_available" in str(task.get("when")), "%s must wait until the project has it" % playbook
            continue
        if not (ROOT / playbook).exists():
            role = {"playbooks/onboard.yml": "onboard_user", "playbooks/offboard.yml": "offboard_user"}.get(playbook)
            if role and not (ROOT / "roles" / role).exists():
                pytest.skip("%s arrives with roles/%s" % (playbook, role))
            pytest.fail("job template %r runs %s, which does not exist" % (args["name"], playbook))


def test_names_the_configuration_refers_to_are_created_by_it():
    names = {module: {args["name"] for _task, args in controller_tasks(module)}
             for module in ("credential_type", "credential", "project", "inventory", "execution_environment", "job_template")}
    loop = [task for task, _args in controller_tasks("credential_type")][0]["loop"]
    assert sorted(loop) == sorted(path.stem for path in (AWX / "credential_types").glob("*.yml"))
    for _task, args in controller_tasks("credential"):
        assert args["credential_type"] in {credential_type(name)["name"] for name in loop}
    for _task, args in controller_tasks("job_template"):
        assert args["project"] in names["project"]
        assert args["inventory"] in names["inventory"]
        assert args["execution_environment"] in names["execution_environment"]
        assert set(args["credentials"]) <= names["credential"]
        if args.get("survey_enabled"):
            path = re.search(r"'(surveys/[^']+)'", args["survey_spec"]).group(1)
            assert (AWX / path).exists()
        assert (args.get("job_slice_count") is not None) == (args["name"] == "Onboard joiners")
    for module in ("inventory_source", "host", "group"):
        for _task, args in controller_tasks(module):
            assert args["inventory"] in names["inventory"]
    for _task, args in controller_tasks("schedule"):
        assert args["unified_job_template"] in names["job_template"]
    surveys = {re.search(r"'surveys/([^']+)'", args["survey_spec"]).group(1)
               for _task, args in controller_tasks("job_template") if args.get("survey_enabled")}
    assert surveys == set(SURVEY_ROLES)


def test_sync_schedule_runs_hourly_on_weekdays():
    (task, args), = controller_tasks("schedule")
    rrule = " ".join(args["rrule"].split())
    assert re.match(r"^DTSTART(;TZID=[\w/]+)?:\d{8}T\d{6}Z? RRULE:", rrule)
    rule = dict(part.split("=", 1) for part in rrule.split("RRULE:", 1)[1].split(";"))
    assert rule["FREQ"] == "HOURLY" and rule["INTERVAL"] == "1"  # AWX refuses a rule without INTERVAL
    assert set(rule["BYDAY"].split(",")) == {"MO", "TU", "WE", "TH", "FR"}
    # Created disabled: the sync is previewed (a Check job) before its schedule is switched on.
    assert "when" not in task
    assert re.findall(r"\{\{\s*(\w+)", args["enabled"]) == ["sync_schedule_enabled"]
    assert _controller_play()["vars"]["sync_schedule_enabled"] is False


@pytest.mark.parametrize("name", sorted(EXTRA_VARS_ROLES))
def test_template_extra_vars_are_role_options_and_the_example_is_valid(name):
    """The sync template hands its roles to the role through extra variables: each one is an option of the role, and the
    example in controller_config.yml passes the role's argument spec once Ansible has rendered it."""
    playbook, role = EXTRA_VARS_ROLES[name]
    (_task, args), = [(task, args) for task, args in controller_tasks("job_template") if args["name"] == name]
    assert args["playbook"] == playbook and (ROOT / playbook).exists()
    plays = load_yaml(ROOT / playbook)
    assert [entry["role"] for play in plays for entry in play.get("roles", [])] == ["practiceprotect.m365." + role]
    options = role_options(role)
    assert args["extra_vars"] and set(args["extra_vars"]) <= set(options)
    play_vars = _controller_play()["vars"]
    rendered = {}
    for variable, template in args["extra_vars"].items():
        (source,) = referenced_fields(template)
        rendered[variable] = play_vars[source]
    result = ArgumentSpecValidator(options).validate(rendered)
    assert result.error_messages == []
    assert args.get("survey_enabled") is not True
    assert args["ask_job_type_on_launch"] is True, "job type Check is the preview"


# -------------------------------------------------------------------------------------------------------------------
# Execution environment


def test_execution_environment_installs_this_collection_with_its_requirements():
    ee = load_yaml(AWX / "execution-environment.yml")
    galaxy = load_yaml(ROOT / "galaxy.yml")
    tarball = "%s-%s-%s.tar.gz" % (galaxy["namespace"], galaxy["name"], galaxy["version"])
    assert ee["version"] == 3
    deps = ee["dependencies"]
    assert deps["galaxy"]["collections"] == [{"name": "collections/" + tarball, "type": "file"}]
    assert [(entry["src"].rsplit("/", 1)[-1], entry["dest"]) for entry in ee["additional_build_files"]] == [(tarball, "collections")]
    assert (AWX / deps["python"]).resolve() == ROOT / "requirements.txt"
    assert (AWX / deps["system"]).resolve() == ROOT / "bindep.txt"
    collection_ee = load_yaml(ROOT / "meta" / "execution-environment.yml")
    for kind in ("python", "system"):
        assert (ROOT / collection_ee["dependencies"][kind]).resolve() == (AWX / deps[kind]).resolve()
    assert deps["ansible_core"]["package_pip"] == "ansible-core>=2.17,<2.20"


def test_the_collections_ee_metadata_holds_only_what_ansible_builder_reads():
    """ansible-builder's introspection reads dependencies.python and dependencies.system of a collection's
    meta/execution-environment.yml and nothing else: anything more would look like a setting and do nothing."""
    collection_ee = load_yaml(ROOT / "meta" / "execution-environment.yml")
    assert collection_ee == {"dependencies": {"python": "requirements.txt", "system": "bindep.txt"}}


def test_bindep_adds_no_second_python():
    """The definition's python_interpreter is the Python of the image; a python3 entry in bindep.txt would install the
    distribution's default Python (3.9 on UBI 9) beside it."""
    entries = [line.split("#", 1)[0].strip() for line in (ROOT / "bindep.txt").read_text(encoding="utf-8").splitlines()]
    assert not [entry for entry in entries if re.match(r"^python", entry)]
    ee = load_yaml(AWX / "execution-environment.yml")
    assert ee["dependencies"]["python_interpreter"]["package_system"] == "python3.11"


def test_the_base_image_is_pinned_and_named_in_the_awx_guide():
    name = load_yaml(AWX / "execution-environment.yml")["images"]["base_image"]["name"]
    pinned = re.match(r"^[a-z0-9.-]+(/[a-z0-9._-]+)+(:(?!latest$)[A-Za-z0-9_][A-Za-z0-9_.-]*|@sha256:[0-9a-f]{64})$", name)
    assert pinned, "the base image %s must name a release tag or a digest, not a moving tag" % name
    assert name in (ROOT / "docs" / "awx.md").read_text(encoding="utf-8")


def test_execution_environment_matches_ansible_builders_schema():
    ee_schema = pytest.importorskip("ansible_builder.ee_schema")
    ee_schema.validate_schema(load_yaml(AWX / "execution-environment.yml"))


@pytest.mark.parametrize("name", sorted(CREDENTIAL_TYPES))
def test_every_type_takes_an_optional_ca_bundle_as_a_file(monkeypatch, tmp_path, name):
    """A TLS-inspecting proxy needs its root trusted: each type has an optional multiline CA bundle field that AWX
    writes to a file; the CA path variable points at it when it is filled in and is empty (the system's CAs)
    when it is not, although AWX writes the (empty) file either way."""
    spec, _options = CREDENTIAL_TYPES[name]
    ctype = credential_type(name)
    (field,) = [f for f in ctype["inputs"]["fields"] if f["id"] == "ca_bundle"]
    assert field.get("multiline") and not field.get("secret") and "ca_bundle" not in ctype["inputs"]["required"]
    variable = {option: env for env, option in env_names(spec).items()}["ca_path"]
    filled = tmp_path / "filled"
    empty = tmp_path / "empty"
    filled.mkdir()
    empty.mkdir()
    environ = awx_inject(ctype, dict(SAMPLE_INPUTS[name], ca_bundle=CA_PEM), filled)
    assert Path(environ[variable]).read_text(encoding="utf-8") == CA_PEM
    assert validate_with_environment(monkeypatch, spec, environ).validated_parameters["ca_path"] == environ[variable]
    environ = awx_inject(ctype, SAMPLE_INPUTS[name], empty)
    assert environ[variable] == "" and list(empty.glob("tmp_template_ca_bundle"))
    assert not validate_with_environment(monkeypatch, spec, environ).validated_parameters["ca_path"]
