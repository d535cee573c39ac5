"""The supervisory authority a data subject may complain to (GDPR Art. 77; in the United Kingdom,
UK GDPR Art. 77), by the tenant's (the data controller's) country. Told in every answer to a
data-subject request (Art. 12(4): an answer that refuses says so, with the right to complain);
where the tenant's country has no entry, the European Data Protection Board's list of every
national authority is given instead.

The addresses and pages are the authorities' own, as they publish them for complaints (CNIL
"Adresser une plainte", AEPD "Sede electrónica: reclamaciones", ICO "Make a complaint").
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SupervisoryAuthority:
    name: str
    short_name: str
    address: tuple[str, ...]
    complaint_url: str
    website: str
    # False for the EDPB's list: not an authority one complains to, a directory of them.
    is_national: bool = True


CNIL = SupervisoryAuthority(
    name="Commission nationale de l'informatique et des libertés",
    short_name="CNIL",
    address=("3 Place de Fontenoy", "TSA 80715", "75334 Paris Cedex 07", "France"),
    complaint_url="https://www.cnil.fr/fr/plaintes",
    website="https://www.cnil.fr",
)
AEPD = SupervisoryAuthority(
    name="Agencia Española de Protección de Datos",
    short_name="AEPD",
    address=("C/ Jorge Juan, 6", "28001 Madrid", "España"),
    complaint_url="https://sedeagpd.gob.es",
    website="https://www.aepd.es",
)
ICO = SupervisoryAuthority(
    name="Information Commissioner's Office",
    short_name="ICO",
    address=("Wycliffe House", "Water Lane", "Wilmslow", "Cheshire SK9 5AF", "United Kingdom"),
    complaint_url="https://ico.org.uk/make-a-complaint/",
    website="https://ico.org.uk",
)
EDPB_MEMBERS = SupervisoryAuthority(
    name="European Data Protection Board: the national supervisory authorities",
    short_name="EDPB",
    address=("Rue Wiertz 60", "1047 Brussels", "Belgium"),
    complaint_url="https://www.edpb.europa.eu/about-edpb/about-edpb/members_en",
    website="https://www.edpb.europa.eu",
    is_national=False,
)

BY_COUNTRY = {"FR": CNIL, "ES": AEPD, "GB": ICO}


def supervisory_authority_for(country_code: str) -> SupervisoryAuthority:
    """The authority of the tenant's country (ISO 3166-1 alpha-2), or the EDPB's list."""
    return BY_COUNTRY.get((country_code or "").upper(), EDPB_MEMBERS)
