"""GraphQL errors get their extensions.code from their type, never from their message text."""

from __future__ import annotations

from graphql import GraphQLError

from api.graphql.base import ScalarInputError, bad_input, forbidden
from api.graphql.schema import classify


def error(original: Exception | None, path: list[str | int] | None = None) -> GraphQLError:
    return GraphQLError(str(original or "malformed"), path=path, original_error=original)


def test_our_api_errors_keep_their_code() -> None:
    assert classify(error(forbidden(), ["ticket"])) == "FORBIDDEN"
    assert classify(bad_input("no")) == "BAD_USER_INPUT"


def test_a_refused_scalar_is_bad_input_even_inside_a_field() -> None:
    refused = ScalarInputError("unknown province 'XX'")
    assert classify(error(refused)) == "BAD_USER_INPUT"
    assert classify(error(refused, ["statistics", "proxyOperations"])) == "BAD_USER_INPUT"


def test_parse_and_variable_errors_without_a_path_are_bad_input() -> None:
    assert classify(error(None)) == "BAD_USER_INPUT"
    assert classify(error(ValueError("Expected type 'Int'"))) == "BAD_USER_INPUT"


def test_a_resolver_error_is_internal_whatever_its_message_says() -> None:
    assert classify(error(ValueError("unknown province 'XX'"), ["me"])) == "INTERNAL_SERVER_ERROR"
    assert classify(error(KeyError("province"), ["me"])) == "INTERNAL_SERVER_ERROR"
