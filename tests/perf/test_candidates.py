"""The candidate shortlist ranks exactly like scoring every ready account would."""

from __future__ import annotations

import random
from datetime import date, timedelta

import pytest

from leasing.models import PoolAccount, PoolAccountTag
from leasing.services.allocation import candidates_queryset, candidates_rank
from tests import factories

VERTICALS = ["coffee", "tea", "fitness"]
COUNTRIES = ["US", "GB", "CA", "DE", "FR"]
LANGUAGES = ["en", "en-US", "en-GB", "fr", "de", ""]


def _random_pool(rng: random.Random, n: int) -> None:
    accounts, tags = [], []
    for i in range(n):
        verticals = rng.sample(VERTICALS, rng.randint(1, 2))
        countries = rng.sample(COUNTRIES, rng.randint(0, 3))
        language = rng.choice(LANGUAGES)
        accounts.append(
            PoolAccount(
                id=f"sa_{i:026d}",
                handle=f"acct_{i}",
                # Few distinct follower counts and dates, so ties decide many places.
                followers=rng.choice([100, 200, 300, 5000]),
                verticals=verticals,
                language=language,
                language_primary=language.split("-")[0],
                countries=countries,
                state=rng.choice(["ready", "ready", "ready", "warming"]),
                warmed_since=rng.choice(
                    [None, date(2025, 1, 1) + timedelta(days=rng.randint(0, 3))]
                ),
            )
        )
        tags += [
            PoolAccountTag(account_id=f"sa_{i:026d}", kind="vertical", value=v) for v in verticals
        ]
        tags += [
            PoolAccountTag(account_id=f"sa_{i:026d}", kind="country", value=c) for c in countries
        ]
    PoolAccount.objects.bulk_create(accounts)
    PoolAccountTag.objects.bulk_create(tags)


def _full_ranking(request, limit, **options) -> list[str]:
    """The ranking without the shortlist: every candidate scored, then the first `limit`."""
    ranked = candidates_queryset(request=request, **options)  # no limit: no shortlist
    return list(ranked.values_list("pk", flat=True)[:limit])


@pytest.mark.postgres
@pytest.mark.parametrize("seed", range(6))
def test_shortlist_ranks_exactly_like_the_full_ranking(db, project, seed):
    rng = random.Random(seed)
    _random_pool(rng, 400)
    for _ in range(8):
        geo = rng.sample(COUNTRIES, rng.randint(0, 4))
        request = factories.make_request(
            project,
            vertical=rng.choice(VERTICALS),
            language=rng.choice(["en", "en-GB", "fr", ""]) or None,
            geo=geo,
        )
        limit = rng.choice([1, 5, 20, 50])
        for options in (
            {},
            {"same_language_only": True},
            {"vertical": ""},
            {"country": rng.choice(COUNTRIES)},
        ):
            shortlisted = [
                c.account.pk for c in candidates_rank(request=request, limit=limit, **options)
            ]
            assert shortlisted == _full_ranking(request, limit, **options), (geo, limit, options)
