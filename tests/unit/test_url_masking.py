"""No secret of a URL is ever printed."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import make_url

from alembic_flask_env.errors import first_line
from alembic_flask_env.errors import masked_traceback
from alembic_flask_env.url_masking import is_secret_parameter
from alembic_flask_env.url_masking import mask_secrets
from alembic_flask_env.url_masking import masked_text
from alembic_flask_env.url_masking import masked_url
from alembic_flask_env.url_masking import safe_url
from alembic_flask_env.url_masking import scrub


@pytest.mark.parametrize(
    "name",
    [
        "password",
        "PASSWORD",
        "passwd",
        "pwd",
        "pass",
        "sslpassword",
        "client_secret",
        "api_token",
        "sslkey",
        "aws_credentials",
    ],
)
def test_secret_parameter_names(name: str) -> None:
    assert is_secret_parameter(name)


@pytest.mark.parametrize("name", ["application_name", "sslmode", "charset", "host"])
def test_other_parameter_names(name: str) -> None:
    assert not is_secret_parameter(name)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://u:p%25w@h/db", "postgresql://u:***@h/db"),
        (
            "postgresql+psycopg://u@h/db?password=s%25e%40c&application_name=app",
            "postgresql+psycopg://u@h/db?application_name=app&password=***",
        ),
        (
            "postgresql://u@h/db?sslpassword=x&password=y&password=z",
            "postgresql://u@h/db?password=***&sslpassword=***",
        ),
        ("sqlite:////tmp/50%25off.db", "sqlite:////tmp/50%25off.db"),
    ],
)
def test_safe_url(url: str, shown: str) -> None:
    assert safe_url(make_url(url)) == shown


def test_masked_url_keeps_a_url_without_secrets_as_it_is() -> None:
    url = make_url("postgresql://u:p@h/db?application_name=app")
    assert masked_url(url) is url


def test_scrub_removes_raw_and_percent_encoded_secrets() -> None:
    url = make_url(
        "postgresql://u:p%25ss%40w0rd@h/db?sslpassword=k3y%21pass&sslmode=require"
    )
    text = "p%ss@w0rd p%25ss%40w0rd k3y!pass k3y%21pass require"
    assert scrub(text, url) == "*** *** *** *** require"


def test_scrub_leaves_short_secrets_alone_rather_than_garble_the_text() -> None:
    url = make_url("postgresql://u:ab@h/db")
    assert scrub("a table called about", url) == "a table called about"


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("postgresql//u:pw@host/db", "***"),
        (
            "pg://u:p@w@host/db?sslpassword=x&a=1",
            "pg://***@host/db?sslpassword=***&a=1",
        ),
        ("pg://host/db?token=abc", "pg://host/db?token=***"),
    ],
)
def test_text_that_is_no_url_is_masked_up_to_the_last_at(
    text: str, masked: str
) -> None:
    assert masked_text(text) == masked


def test_a_host_with_an_at_masks_the_whole_userinfo() -> None:
    url = make_url("mysql+pymysql://user:pa@ss@Tail@db.example:3306/app?token=t")
    assert safe_url(url) == "mysql+pymysql://***@db.example:3306/app?token=***"


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        (
            "could not reach postgresql://app:hunter22@db/app",
            "could not reach postgresql://***@db/app",
        ),
        (
            "postgresql+psycopg://u:pa@ss@host:5432/db?sslpassword=abc&sslmode=x",
            "postgresql+psycopg://***@host:5432/db?sslpassword=***&sslmode=x",
        ),
        ("mysql://u:pw@host, then mail a@b", "mysql://***@host, then mail a@b"),
        (
            "dsn host=db password=hunter22 user=app",
            "dsn host=db password=*** user=app",
        ),
        (
            "host=db password='se cret\\'s' dbname=app",
            "host=db password='***' dbname=app",
        ),
        ('PASSWORD = "abc def"', 'PASSWORD = "***"'),
        (
            "{'password': 'hunter22', 'user': 'app'}",
            "{'password': '***', 'user': 'app'}",
        ),
        ('{"api_token": "t0k3n"}', '{"api_token": "***"}'),
        (
            "duplicate key value violates unique constraint; Key (id)=(1) exists",
            "duplicate key value violates unique constraint; Key (id)=(1) exists",
        ),
        (
            "sqlite:////srv/app.db sslmode=require",
            "sqlite:////srv/app.db sslmode=require",
        ),
    ],
)
def test_mask_secrets_in_free_text(text: str, masked: str) -> None:
    assert mask_secrets(text) == masked


def test_mask_secrets_scrubs_the_secrets_of_the_urls_given_too() -> None:
    url = make_url("postgresql://u:longpassword@h/db")
    assert mask_secrets("auth failed for longpassword", url, None) == (
        "auth failed for ***"
    )


def test_an_errors_first_line_and_traceback_are_masked() -> None:
    try:
        raise RuntimeError("to postgresql://u:pw@h/db password=pw2\nsecond line")
    except RuntimeError as error:
        assert first_line(error) == "to postgresql://***@h/db password=***"
        logged = masked_traceback(error)
    assert logged.startswith("Traceback (most recent call last):")
    assert logged.endswith(
        "RuntimeError: to postgresql://***@h/db password=***\nsecond line"
    )
