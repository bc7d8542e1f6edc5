"""``tessera lookup HASH... [--type md5|sha1|sha256|pdq] [--radius N] [--json]``.

The use case is ``tessera.app.lookup.lookup`` (the API's batch lookups call it too);
this command only turns arguments into queries. Without ``--type`` the length
decides: 32 hex digits are MD5, 40 SHA-1, and 64 both SHA-256 and PDQ (the two
cannot be told apart), so a 64-digit hash is asked both ways and gets two answers.
"""

from __future__ import annotations

import click

from tessera.app import lookup
from tessera.app.lookup import HashQuery
from tessera.app.trust import VerdictCounts
from tessera.cli.context import CliContext, emit, pass_app
from tessera.errors import InvalidInput
from tessera.fingerprints.pdq import MATCH_THRESHOLD

_BY_LENGTH: dict[int, tuple[lookup.HashType, ...]] = {
    32: ("md5",),
    40: ("sha1",),
    64: ("sha256", "pdq"),
}


def queries(hashes: tuple[str, ...], hash_type: str | None) -> list[HashQuery]:
    out = []
    for h in hashes:
        text = h.strip().lower()
        if hash_type is not None:
            out.append(HashQuery(type=hash_type, hash=text))  # type: ignore[arg-type]
            continue
        types = _BY_LENGTH.get(len(text))
        if types is None:
            raise InvalidInput(
                f"{h!r} is not a hash: 32 (MD5), 40 (SHA-1) or 64 (SHA-256, PDQ) hex digits"
            )
        out += [HashQuery(type=t, hash=text) for t in types]
    return out


def _verdicts(v: VerdictCounts) -> str:
    out = ""
    if v.confirmed_agencies:
        out += (
            f"  confirmed by {v.confirmed_agencies} agencies in {v.confirmed_countries} countries"
        )
    if v.disputed_agencies:
        out += f"  DISPUTED by {v.disputed_agencies} agencies ({', '.join(v.dispute_reasons)})"
    return out


@click.command("lookup")
@click.argument("hashes", nargs=-1, required=True)
@click.option(
    "--type",
    "hash_type",
    type=click.Choice(lookup.HASH_TYPES),
    help="Hash type (default: from the length; 64 hex digits are asked as SHA-256 and PDQ).",
)
@click.option(
    "--radius",
    type=int,
    default=MATCH_THRESHOLD,
    show_default=True,
    help="PDQ: largest Hamming distance reported.",
)
@click.option("--hide-disputed", is_flag=True, help="Leave out items an agency disputed.")
@click.option("--explain", is_flag=True, help="Show matches of negative-listed hashes too.")
@click.option("--json", "as_json", is_flag=True, help="One JSON document.")
@click.option(
    "--agency",
    help="Act for this agency (default: TESSERA_NODE_AGENCY): hits notify the series' "
    "owners and count for the flood guard; matches show what the agency may see.",
)
@pass_app
def lookup_command(
    cli: CliContext,
    hashes: tuple[str, ...],
    hash_type: str | None,
    radius: int,
    hide_disputed: bool,
    explain: bool,
    as_json: bool,
    agency: str | None,
) -> None:
    """Is each HASH known? Matches with their series and status, from hashes alone."""
    asked = queries(hashes, hash_type)
    if cli.server:  # only the hashes travel
        with cli.remote() as remote:
            r = remote.lookup(asked, radius=radius)
    else:
        r = lookup.lookup(
            cli.app,
            cli.acting_for(agency),
            asked,
            radius=radius,
            explain=explain,
            hide_disputed=hide_disputed,
        )
    names = {x.series_id: x for x in r.series}
    lines = []
    for a in r.results:
        lines.append(f"{a.hash}  {a.type}  {len(a.matches) or 'no'} match(es)")
        if a.suppressed:
            lines.append(f"  suppressed: on a negative list ({a.suppressed})")
        for m in a.matches:
            at = f" at {m.timestamp:.1f}s" if m.timestamp is not None else ""
            series = "; ".join(
                f"{names[i].name} ({names[i].owner_code}, victim "
                f"{'identified' if names[i].victim_identified else 'not identified'})"
                for i in m.series
                if i in names
            )
            ask = f"  known to the network, ask {', '.join(m.contacts)}" if m.contacts else ""
            lines.append(
                f"  media {m.media_id} {m.match} distance {m.distance}{at}"
                + (f"  series: {series}" if series else "")
                + ask
                + ("  QUARANTINED (flooding hash)" if m.quarantined else "")
                + (_verdicts(m.verdicts) if m.verdicts else "")
            )
    lines.append(f"{r.matched} of {len(r.results)} queries matched")
    emit(r, as_json, "\n".join(lines))
