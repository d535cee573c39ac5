"""The register's words in Spanish and French, keyed by the English text (as gettext keys its
catalogues, without compiled files): the headings, the labels of the values, and the shipped
purposes' and presets' texts (compliance/migrations/0004_retention_presets.py,
0021_processor_defaults.py). A text nobody translated (what a tenant typed) is shown as typed.
"""

from __future__ import annotations

LANGUAGES = {"en": "English", "es": "Español", "fr": "Français"}

_CALLERS = "Callers (customers and prospects); the contact centre's agents"
_CALL_DATA = (
    "Voice recording of the call; the caller's telephone number; date, time, duration and "
    "direction of the call; agent code; campaign"
)
_FROM_THE_CALL = "Collected during the call itself, through the contact centre's telephony"

# The shipped presets' legal references (compliance/migrations/0004_retention_presets.py).
_CNIL = "CNIL, « L'écoute et l'enregistrement des appels sur le lieu de travail »"
_CNIL_AUDIO = _CNIL + ": recordings are kept at most 6 months."
_CNIL_ANALYSIS = _CNIL + ": analysis documents are kept at most 1 year."
_TELESALES = (
    "Code des assurances, art. R.112-7: recording kept 2 years from signature; destroyed if no "
    "contract follows; a caller who refuses recording is offered no recorded call."
)
_MIFID = (
    "Directive 2014/65/EU (MiFID II) art. 16(7): records kept 5 years, and up to 7 years where "
    "the competent authority requests it."
)

_ES_CALLERS = "Llamantes (clientes y clientes potenciales); los agentes del centro de contacto"
_ES_CALL_DATA = (
    "Grabación de voz de la llamada; número de teléfono del llamante; fecha, hora, duración y "
    "sentido de la llamada; código del agente; campaña"
)
_ES_FROM_THE_CALL = (
    "Recogidos durante la propia llamada, mediante la telefonía del centro de contacto"
)
_FR_CALLERS = "Appelants (clients et prospects) ; les téléconseillers du centre de contacts"
_FR_CALL_DATA = (
    "Enregistrement vocal de l'appel ; numéro de téléphone de l'appelant ; date, heure, durée et "
    "sens de l'appel ; code du téléconseiller ; campagne"
)
_FR_FROM_THE_CALL = "Collectées pendant l'appel lui-même, par la téléphonie du centre de contacts"

SPANISH = {
    # Headings and labels.
    "Register of processing activities": "Registro de actividades de tratamiento",
    "GDPR Art. 30(1)": "RGPD art. 30, apartado 1",
    "Controller": "Responsable del tratamiento",
    "Country": "País",
    "Generated on": "Generado el",
    "Content hash (SHA-256)": "Huella del contenido (SHA-256)",
    "Language": "Idioma",
    "Processing activities": "Actividades de tratamiento",
    "Purpose": "Finalidad",
    "Description": "Descripción",
    "Legal basis": "Base jurídica",
    "Categories of data subjects": "Categorías de interesados",
    "Categories of personal data": "Categorías de datos personales",
    "Source of the data": "Origen de los datos",
    "Erasure time limit": "Plazo de supresión",
    "Legal reference": "Referencia jurídica",
    "Recipients (processors)": "Destinatarios (encargados del tratamiento)",
    "Transfers outside the EEA and safeguards": "Transferencias fuera del EEE y garantías",
    "Security measures": "Medidas de seguridad",
    "Processors and sub-processors": "Encargados y subencargados del tratamiento",
    "Name": "Nombre",
    "Role": "Función",
    "Services provided": "Servicios prestados",
    "Purposes served": "Finalidades atendidas",
    "Inside the EEA": "Dentro del EEE",
    "Transfer safeguard": "Garantía de la transferencia",
    "Agreement signed on": "Contrato firmado el",
    "Agreement expires on": "El contrato vence el",
    "Review due on": "Revisión prevista el",
    "Security contact": "Contacto de seguridad",
    "Status": "Estado",
    "Technical and organisational security measures": "Medidas técnicas y organizativas de "
    "seguridad",
    "Yes": "Sí",
    "No": "No",
    "None": "Ninguna",
    "Every purpose": "Todas las finalidades",
    "Processor": "Encargado del tratamiento",
    "Sub-processor of %(chain)s": "Subencargado de %(chain)s",
    "%(name)s (%(country)s): %(safeguard)s": "%(name)s (%(country)s): %(safeguard)s",
    "signed on %(date)s": "firmadas el %(date)s",
    "%(months)d months, then %(action)s": "%(months)d meses y después %(action)s",
    "up to %(months)d months on request": "hasta %(months)d meses si se solicita",
    "deleted": "supresión",
    "anonymised": "anonimización",
    "the purpose's default period (no retention policy)": "plazo por defecto de la finalidad "
    "(sin política de conservación)",
    "Print": "Imprimir",
    "Download": "Descargar",
    # Values.
    "Consent (Art. 6(1)(a))": "Consentimiento (art. 6, apartado 1, letra a)",
    "Contract (Art. 6(1)(b))": "Contrato (art. 6, apartado 1, letra b)",
    "Legal obligation (Art. 6(1)(c))": "Obligación legal (art. 6, apartado 1, letra c)",
    "Legitimate interest (Art. 6(1)(f))": "Interés legítimo (art. 6, apartado 1, letra f)",
    "Adequacy decision (Art. 45)": "Decisión de adecuación (art. 45)",
    "Standard contractual clauses (Art. 46(2)(c))": "Cláusulas contractuales tipo (art. 46, "
    "apartado 2, letra c)",
    "Binding corporate rules (Art. 47)": "Normas corporativas vinculantes (art. 47)",
    "Active": "Activo",
    "Suspended": "Suspendido",
    "Ended": "Finalizado",
    # Shipped presets.
    _CNIL_AUDIO: _CNIL + ": las grabaciones se conservan como máximo 6 meses.",
    _CNIL_ANALYSIS: _CNIL + ": los documentos de análisis se conservan como máximo 1 año.",
    _TELESALES: "Code des assurances, art. R.112-7: grabación conservada 2 años desde la firma; "
    "destruida si no sigue ningún contrato; al llamante que rechaza la grabación no se le ofrece "
    "ninguna llamada grabada.",
    _MIFID: "Directiva 2014/65/UE (MiFID II), art. 16, apartado 7: registros conservados 5 años, "
    "y hasta 7 años si la autoridad competente lo solicita.",
    # Shipped purposes.
    "Agent training": "Formación de agentes",
    "Quality monitoring": "Control de calidad",
    "Performance supervision": "Supervisión del desempeño",
    "Telemarketing": "Telemarketing",
    "Call analysis documents": "Documentos de análisis de llamadas",
    "Insurance telesales": "Venta de seguros por teléfono",
    "Investment services (MiFID II)": "Servicios de inversión (MiFID II)",
    "Recordings used to train agents.": "Grabaciones utilizadas para formar a los agentes.",
    "Sampling calls to measure and improve service quality.": "Muestreo de llamadas para medir "
    "y mejorar la calidad del servicio.",
    "Supervisors reviewing an agent's calls.": "Supervisores que revisan las llamadas de un "
    "agente.",
    "Outbound commercial calls; recorded only with the caller's consent.": "Llamadas comerciales "
    "salientes; grabadas solo con el consentimiento del llamante.",
    "Evaluation sheets and analyses drawn from recordings (not the audio).": "Fichas de "
    "evaluación y análisis extraídos de las grabaciones (no el audio).",
    "Distance selling of insurance by telephone: proof of the caller's agreement.": "Venta a "
    "distancia de seguros por teléfono: prueba de la conformidad del llamante.",
    "Telephone conversations relating to client orders and transactions.": "Conversaciones "
    "telefónicas relativas a órdenes y operaciones de clientes.",
    _CALLERS: _ES_CALLERS,
    _CALL_DATA: _ES_CALL_DATA,
    _CALL_DATA + "; quality evaluation": _ES_CALL_DATA + "; evaluación de calidad",
    _CALL_DATA + "; supervisor's assessment": _ES_CALL_DATA + "; valoración del supervisor",
    _CALL_DATA + "; the caller's consent decision": _ES_CALL_DATA
    + "; la decisión de consentimiento del llamante",
    _CALL_DATA + "; the caller's agreement to the contract": _ES_CALL_DATA
    + "; la conformidad del llamante con el contrato",
    _CALL_DATA + "; orders and transactions discussed": _ES_CALL_DATA
    + "; órdenes y operaciones tratadas",
    _FROM_THE_CALL: _ES_FROM_THE_CALL,
    _FROM_THE_CALL + "; the consent from the IVR or the agent": _ES_FROM_THE_CALL
    + "; el consentimiento, del IVR o del agente",
    "The contact centre's agents; callers": "Los agentes del centro de contacto; llamantes",
    "Prospects and customers called, who consented to the recording; agents": "Clientes y "
    "clientes potenciales llamados que consintieron la grabación; agentes",
    "Evaluation sheets and analyses drawn from recordings (not the audio); agent code": "Fichas "
    "de evaluación y análisis extraídos de las grabaciones (no el audio); código del agente",
    "Drawn from the recordings by supervisors and quality analysts": "Extraídos de las "
    "grabaciones por supervisores y analistas de calidad",
    "Prospects and policyholders called; agents": "Clientes potenciales y asegurados llamados; "
    "agentes",
    "Clients giving orders or receiving investment services; the firm's staff": "Clientes que "
    "dan órdenes o reciben servicios de inversión; el personal de la empresa",
}

FRENCH = {
    # Headings and labels.
    "Register of processing activities": "Registre des activités de traitement",
    "GDPR Art. 30(1)": "RGPD art. 30, paragraphe 1",
    "Controller": "Responsable du traitement",
    "Country": "Pays",
    "Generated on": "Généré le",
    "Content hash (SHA-256)": "Empreinte du contenu (SHA-256)",
    "Language": "Langue",
    "Processing activities": "Activités de traitement",
    "Purpose": "Finalité",
    "Description": "Description",
    "Legal basis": "Base légale",
    "Categories of data subjects": "Catégories de personnes concernées",
    "Categories of personal data": "Catégories de données personnelles",
    "Source of the data": "Source des données",
    "Erasure time limit": "Délai d'effacement",
    "Legal reference": "Référence juridique",
    "Recipients (processors)": "Destinataires (sous-traitants)",
    "Transfers outside the EEA and safeguards": "Transferts hors de l'EEE et garanties",
    "Security measures": "Mesures de sécurité",
    "Processors and sub-processors": "Sous-traitants et sous-traitants ultérieurs",
    "Name": "Nom",
    "Role": "Rôle",
    "Services provided": "Services fournis",
    "Purposes served": "Finalités servies",
    "Inside the EEA": "Dans l'EEE",
    "Transfer safeguard": "Garantie du transfert",
    "Agreement signed on": "Contrat signé le",
    "Agreement expires on": "Contrat expirant le",
    "Review due on": "Revue prévue le",
    "Security contact": "Contact sécurité",
    "Status": "Statut",
    "Technical and organisational security measures": "Mesures de sécurité techniques et "
    "organisationnelles",
    "Yes": "Oui",
    "No": "Non",
    "None": "Aucune",
    "Every purpose": "Toutes les finalités",
    "Processor": "Sous-traitant",
    "Sub-processor of %(chain)s": "Sous-traitant ultérieur de %(chain)s",
    "%(name)s (%(country)s): %(safeguard)s": "%(name)s (%(country)s) : %(safeguard)s",
    "signed on %(date)s": "signées le %(date)s",
    "%(months)d months, then %(action)s": "%(months)d mois, puis %(action)s",
    "up to %(months)d months on request": "jusqu'à %(months)d mois sur demande",
    "deleted": "suppression",
    "anonymised": "anonymisation",
    "the purpose's default period (no retention policy)": "durée par défaut de la finalité "
    "(aucune politique de conservation)",
    "Print": "Imprimer",
    "Download": "Télécharger",
    # Values.
    "Consent (Art. 6(1)(a))": "Consentement (art. 6, paragraphe 1, point a)",
    "Contract (Art. 6(1)(b))": "Contrat (art. 6, paragraphe 1, point b)",
    "Legal obligation (Art. 6(1)(c))": "Obligation légale (art. 6, paragraphe 1, point c)",
    "Legitimate interest (Art. 6(1)(f))": "Intérêt légitime (art. 6, paragraphe 1, point f)",
    "Adequacy decision (Art. 45)": "Décision d'adéquation (art. 45)",
    "Standard contractual clauses (Art. 46(2)(c))": "Clauses contractuelles types (art. 46, "
    "paragraphe 2, point c)",
    "Binding corporate rules (Art. 47)": "Règles d'entreprise contraignantes (art. 47)",
    "Active": "Actif",
    "Suspended": "Suspendu",
    "Ended": "Terminé",
    # Shipped presets.
    _CNIL_AUDIO: _CNIL + " : les enregistrements sont conservés 6 mois au plus.",
    _CNIL_ANALYSIS: _CNIL + " : les documents d'analyse sont conservés 1 an au plus.",
    _TELESALES: "Code des assurances, art. R.112-7 : enregistrement conservé 2 ans à compter de "
    "la signature ; détruit si aucun contrat ne suit ; l'appelant qui refuse l'enregistrement ne "
    "se voit proposer aucun appel enregistré.",
    _MIFID: "Directive 2014/65/UE (MiFID II), art. 16, paragraphe 7 : enregistrements conservés "
    "5 ans, et jusqu'à 7 ans à la demande de l'autorité compétente.",
    # Shipped purposes.
    "Agent training": "Formation des téléconseillers",
    "Quality monitoring": "Contrôle qualité",
    "Performance supervision": "Supervision des performances",
    "Telemarketing": "Prospection commerciale par téléphone",
    "Call analysis documents": "Documents d'analyse des appels",
    "Insurance telesales": "Vente d'assurance par téléphone",
    "Investment services (MiFID II)": "Services d'investissement (MiFID II)",
    "Recordings used to train agents.": "Enregistrements utilisés pour former les téléconseillers.",
    "Sampling calls to measure and improve service quality.": "Échantillonnage d'appels pour "
    "mesurer et améliorer la qualité de service.",
    "Supervisors reviewing an agent's calls.": "Superviseurs écoutant les appels d'un "
    "téléconseiller.",
    "Outbound commercial calls; recorded only with the caller's consent.": "Appels commerciaux "
    "sortants ; enregistrés seulement avec le consentement de l'appelant.",
    "Evaluation sheets and analyses drawn from recordings (not the audio).": "Grilles "
    "d'évaluation et analyses tirées des enregistrements (pas l'audio).",
    "Distance selling of insurance by telephone: proof of the caller's agreement.": "Vente à "
    "distance d'assurance par téléphone : preuve de l'accord de l'appelant.",
    "Telephone conversations relating to client orders and transactions.": "Conversations "
    "téléphoniques relatives aux ordres et transactions des clients.",
    _CALLERS: _FR_CALLERS,
    _CALL_DATA: _FR_CALL_DATA,
    _CALL_DATA + "; quality evaluation": _FR_CALL_DATA + " ; évaluation de la qualité",
    _CALL_DATA + "; supervisor's assessment": _FR_CALL_DATA + " ; appréciation du superviseur",
    _CALL_DATA + "; the caller's consent decision": _FR_CALL_DATA
    + " ; la décision de consentement de l'appelant",
    _CALL_DATA + "; the caller's agreement to the contract": _FR_CALL_DATA
    + " ; l'accord de l'appelant au contrat",
    _CALL_DATA + "; orders and transactions discussed": _FR_CALL_DATA
    + " ; ordres et transactions évoqués",
    _FROM_THE_CALL: _FR_FROM_THE_CALL,
    _FROM_THE_CALL + "; the consent from the IVR or the agent": _FR_FROM_THE_CALL
    + " ; le consentement, par le SVI ou le téléconseiller",
    "The contact centre's agents; callers": "Les téléconseillers du centre de contacts ; appelants",
    "Prospects and customers called, who consented to the recording; agents": "Prospects et "
    "clients appelés ayant consenti à l'enregistrement ; téléconseillers",
    "Evaluation sheets and analyses drawn from recordings (not the audio); agent code": "Grilles "
    "d'évaluation et analyses tirées des enregistrements (pas l'audio) ; code du téléconseiller",
    "Drawn from the recordings by supervisors and quality analysts": "Tirées des enregistrements "
    "par les superviseurs et les analystes qualité",
    "Prospects and policyholders called; agents": "Prospects et assurés appelés ; téléconseillers",
    "Clients giving orders or receiving investment services; the firm's staff": "Clients passant "
    "des ordres ou recevant des services d'investissement ; le personnel de l'entreprise",
}

CATALOGUES = {"en": {}, "es": SPANISH, "fr": FRENCH}


def language_of(value: str | None) -> str:
    """A language the register is written in: `value` if it is one, else English."""
    return value if value in CATALOGUES else "en"


def translate(language: str, text: str, **params) -> str:
    """`text` in `language` (as it is when no translation is known), with `params` put in."""
    translated = CATALOGUES.get(language, {}).get(str(text), str(text))
    return translated % params if params else translated
