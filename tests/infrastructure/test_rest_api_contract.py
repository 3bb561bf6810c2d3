"""What API Gateway answers by itself, read from the synthesized template, is what `infra.rest_api`
says and what the local gateway answers: the CORS preflight (the MOCK integration CDK puts on
every resource), the gateway responses, the authorizer's identity check and cache."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import Client

from infra import rest_api
from local_stack.gateway import Gateway
from local_stack.lambda_runtime import LambdaRuntime
from tests.infrastructure.conftest import TEST_CONFIG, synthesize
from tests.infrastructure.template_reading import resources

ONE_ORIGIN = list(TEST_CONFIG["corsAllowedOrigins"])
TWO_ORIGINS = [*ONE_ORIGIN, "https://admin.example.com"]
STRANGER = "https://evil.example"
METHOD_RESPONSE_HEADER = "method.response.header."
GATEWAY_RESPONSE_HEADER = "gatewayresponse.header."

# CDK's response template for the preflight when there are several origins (aws-apigateway
# cors.ts), read strictly: if CDK changes what it generates, this stops matching and says so.
OVERRIDE_TEMPLATE = re.compile(
    r'#set\(\$origin = \$input\.params\(\)\.header\.get\("Origin"\)\)\n'
    r'#if\(\$origin == ""\)\n'
    r'  #set\(\$origin = \$input\.params\(\)\.header\.get\("origin"\)\)\n'
    r"#end\n"
    r"#if\((?P<condition>.+)\)\n"
    r"  #set\(\$context\.responseOverride\.header\.(?P<header>[\w-]+) = \$origin\)\n"
    r"#end"
)
ORIGIN_TEST = re.compile(r'\$origin == "(?P<origin>[^"]*)"')


@pytest.fixture(scope="module")
def two_origin_template() -> Any:
    return synthesize({**TEST_CONFIG, "corsAllowedOrigins": TWO_ORIGINS})[1]


@pytest.fixture(params=["one origin", "two origins"])
def deployed(request: pytest.FixtureRequest) -> tuple[list[str], Any]:
    """(the configured origins, the template synthesized with them)."""
    if request.param == "one origin":
        return ONE_ORIGIN, request.getfixturevalue("template")
    return TWO_ORIGINS, request.getfixturevalue("two_origin_template")


def literal(value: str) -> str:
    """A mapping's static value: `'text'`."""
    assert value.startswith("'") and value.endswith("'"), value
    return value[1:-1]


def preflight_methods(template: Any) -> dict[str, dict[str, Any]]:
    return {
        logical_id: method["Properties"]
        for logical_id, method in resources(template, "AWS::ApiGateway::Method").items()
        if method["Properties"]["HttpMethod"] == "OPTIONS"
    }


def mock_answer(method: dict[str, Any], request_headers: dict[str, str]) -> tuple[int, dict[str, str]]:
    """What the MOCK integration answers a preflight with, read from the template: the default
    integration response's status and header mappings, then its response template's override."""
    integration = method["Integration"]
    assert integration["Type"] == "MOCK"
    assert integration["RequestTemplates"] == {"application/json": "{ statusCode: 200 }"}
    (response,) = integration["IntegrationResponses"]
    assert "SelectionPattern" not in response  # the default response: every MOCK answer
    headers = {
        name.removeprefix(METHOD_RESPONSE_HEADER): literal(value)
        for name, value in response["ResponseParameters"].items()
    }
    template = (response.get("ResponseTemplates") or {}).get("application/json")
    if template:
        parsed = OVERRIDE_TEMPLATE.fullmatch(template)
        assert parsed, f"CDK's preflight response template changed:\n{template}"
        others = [test["origin"] for test in ORIGIN_TEST.finditer(parsed["condition"])]
        assert " || ".join(f'$origin == "{o}"' for o in others) == parsed["condition"]
        # By those exact names: the template's own lookups.
        origin = request_headers.get("Origin") or request_headers.get("origin")
        if origin is not None and origin in others:
            headers[parsed["header"]] = origin
    return int(response["StatusCode"]), headers


def origins_to_try(origins: list[str]) -> list[str | None]:
    """No Origin header, each configured origin, and origins that are not configured."""
    return [None, *origins, STRANGER, origins[0].upper()]


def test_given_the_template_when_its_preflight_is_read_then_every_resource_has_one_and_declares_each_header(
    deployed,
) -> None:
    origins, template = deployed
    methods = preflight_methods(template)

    assert len(methods) == len(resources(template, "AWS::ApiGateway::Resource")) + 1  # and the root
    for method in methods.values():
        assert method["AuthorizationType"] == "NONE"
        (declared,) = method["MethodResponses"]
        expected = rest_api.preflight_headers(origins, None)
        assert declared["StatusCode"] == str(rest_api.PREFLIGHT_STATUS)
        assert declared["ResponseParameters"] == {f"{METHOD_RESPONSE_HEADER}{name}": True for name in expected}


def test_given_any_origin_when_the_mock_integration_answers_a_preflight_then_preflight_headers_says_the_same(
    deployed,
) -> None:
    origins, template = deployed

    for method in preflight_methods(template).values():
        for origin in [*origins_to_try(origins), ""]:
            sent = {} if origin is None else {"Origin": origin}
            status, headers = mock_answer(method, sent)

            assert status == rest_api.PREFLIGHT_STATUS
            assert headers == rest_api.preflight_headers(origins, origin), origin


def test_given_two_origins_when_the_second_asks_then_the_mock_names_it_and_the_first_is_named_otherwise(
    two_origin_template,
) -> None:
    method = next(iter(preflight_methods(two_origin_template).values()))

    assert mock_answer(method, {"Origin": TWO_ORIGINS[1]})[1]["Access-Control-Allow-Origin"] == TWO_ORIGINS[1]
    assert mock_answer(method, {"origin": TWO_ORIGINS[1]})[1]["Access-Control-Allow-Origin"] == TWO_ORIGINS[1]
    assert mock_answer(method, {"Origin": STRANGER})[1]["Access-Control-Allow-Origin"] == TWO_ORIGINS[0]
    assert rest_api.preflight_headers(TWO_ORIGINS, TWO_ORIGINS[1])["Access-Control-Allow-Origin"] == TWO_ORIGINS[1]


def resource_paths(template: Any) -> dict[str, str]:
    """Every resource's path, by the reference an OPTIONS method's ResourceId makes to it."""
    found = resources(template, "AWS::ApiGateway::Resource")
    root = json.dumps({"Fn::GetAtt": [next(iter(resources(template, "AWS::ApiGateway::RestApi"))), "RootResourceId"]})

    def path_of(logical_id: str) -> str:
        properties = found[logical_id]["Properties"]
        parent = properties["ParentId"]
        prefix = "" if json.dumps(parent) == root else path_of(parent["Ref"])
        return f"{prefix}/{properties['PathPart']}"

    paths = {json.dumps({"Ref": logical_id}): path_of(logical_id) for logical_id in found}
    return {root: "/", **paths}


def local_gateway(tmp_path: Path, origins: list[str]) -> Client:
    """The local gateway alone: no Lambda is deployed, so none can answer (nor needs to)."""
    return Client(Gateway(LambdaRuntime(tmp_path), cors_origins=origins))


def test_given_every_resource_in_the_template_when_the_local_gateway_gets_a_preflight_then_it_answers_as_the_mock(
    deployed, tmp_path: Path
) -> None:
    origins, template = deployed
    paths = resource_paths(template)
    client = local_gateway(tmp_path, origins)

    for method in preflight_methods(template).values():
        path = paths[json.dumps(method["ResourceId"])].replace("{masterJobId}", "auto-gen-abc-1")
        for origin in origins_to_try(origins):
            sent = {} if origin is None else {"Origin": origin}
            response = client.options(path, headers=sent)

            assert response.status_code == mock_answer(method, sent)[0], path
            answered = {name: response.headers[name] for name in mock_answer(method, sent)[1]}
            assert answered == mock_answer(method, sent)[1], (path, origin)
            assert response.get_data() == b""


def test_given_a_path_that_is_no_resource_when_preflighted_then_the_local_gateway_answers_a_missing_route(
    tmp_path: Path,
) -> None:
    response = local_gateway(tmp_path, ONE_ORIGIN).options("/api/nothing-here", headers={"Origin": ONE_ORIGIN[0]})

    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "ROUTE_NOT_FOUND"


def gateway_responses(template: Any) -> dict[str, dict[str, Any]]:
    return {
        r["Properties"]["ResponseType"]: r["Properties"]
        for r in resources(template, "AWS::ApiGateway::GatewayResponse").values()
    }


def test_given_the_template_when_its_gateway_responses_are_read_then_they_are_gateway_errors(deployed) -> None:
    origins, template = deployed
    responses = gateway_responses(template)

    assert set(responses) == set(rest_api.GATEWAY_ERRORS)
    for response_type, error in rest_api.GATEWAY_ERRORS.items():
        declared = responses[response_type]
        assert declared.get("StatusCode") == (str(error.status) if error.status else None), response_type
        assert set(declared["ResponseTemplates"]) == {"application/json"}
        assert json.loads(declared["ResponseTemplates"]["application/json"]) == error.body()
        assert declared["ResponseParameters"] == {
            f"{GATEWAY_RESPONSE_HEADER}{name}": value for name, value in rest_api.gateway_error_cors(origins).items()
        }


def gateway_response_headers(declared: dict[str, Any], request_headers: dict[str, str]) -> dict[str, str]:
    """The headers a gateway response's mappings produce: a literal, or a request header
    (absent when the request has none)."""
    headers = {}
    for name, value in declared.get("ResponseParameters", {}).items():
        header = name.removeprefix(GATEWAY_RESPONSE_HEADER)
        if value.startswith("method.request.header."):
            wanted = value.removeprefix("method.request.header.").lower()
            sent = [v for k, v in request_headers.items() if k.lower() == wanted]
            if sent:
                headers[header] = sent[-1]
        else:
            headers[header] = literal(value)
    return headers


@pytest.mark.parametrize(
    ("response_type", "method", "path", "data"),
    [
        ("UNAUTHORIZED", "POST", "/api/images/generate-all-automatically", b"{}"),
        ("UNAUTHORIZED", "GET", "/api/images/master-job/auto-gen-abc-1", b""),
        ("MISSING_AUTHENTICATION_TOKEN", "GET", "/api/images/nothing-here", b""),
        ("MISSING_AUTHENTICATION_TOKEN", "DELETE", "/api/images/master-job/auto-gen-abc-1", b""),
        ("REQUEST_TOO_LARGE", "POST", "/api/images/generate-all-automatically", b"x" * (10 * 1024 * 1024 + 1)),
    ],
)
def test_given_a_request_api_gateway_refuses_itself_when_sent_to_the_local_gateway_then_the_template_answer(
    deployed, tmp_path: Path, response_type: str, method: str, path: str, data: bytes
) -> None:
    origins, template = deployed
    declared = gateway_responses(template)[response_type]
    client = local_gateway(tmp_path, origins)

    for origin in origins_to_try(origins):
        sent = {} if origin is None else {"Origin": origin}
        response = client.open(path, method=method, data=data, headers=sent)

        assert response.status_code == int(declared["StatusCode"])
        assert response.get_json() == json.loads(declared["ResponseTemplates"]["application/json"])
        expected = gateway_response_headers(declared, sent)
        assert {name: response.headers.get(name) for name in expected} == expected
        absent = set(rest_api.gateway_error_cors(origins)) - set(expected)
        assert all(name not in response.headers for name in absent)


def test_given_the_template_when_its_authorizer_is_read_then_it_is_configured_from_the_rest_api_contract(
    template,
) -> None:
    (authorizer,) = resources(template, "AWS::ApiGateway::Authorizer").values()
    (api,) = resources(template, "AWS::ApiGateway::RestApi").values()

    assert authorizer["Properties"]["Type"] == "TOKEN"
    assert authorizer["Properties"]["IdentitySource"] == f"method.request.header.{rest_api.IDENTITY_HEADER}"
    assert authorizer["Properties"]["IdentityValidationExpression"] == rest_api.IDENTITY_VALIDATION_EXPRESSION
    assert authorizer["Properties"]["AuthorizerResultTtlInSeconds"] == rest_api.AUTHORIZER_CACHE_SECONDS
    assert api["Properties"].get("BinaryMediaTypes", []) == list(rest_api.BINARY_MEDIA_TYPES)
