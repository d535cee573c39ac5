"""README.txt of a data subject's export, in the language of the request (English, Spanish,
French): what the archive holds and what each field of subject.json means (GDPR Art. 12(1):
concise, intelligible, in clear and plain language).

`FIELDS` explains every property of subject.schema.json in every language;
tests/recordings/test_subject_export.py checks that none is left out.
"""

from __future__ import annotations

LANGUAGES = ("en", "es", "fr")

KINDS = {
    "access": {
        "en": "access to your data (GDPR Article 15)",
        "es": "acceso a sus datos (artículo 15 del RGPD)",
        "fr": "d'accès à vos données (article 15 du RGPD)",
    },
    "portability": {
        "en": "the portability of your data (GDPR Article 20)",
        "es": "portabilidad de sus datos (artículo 20 del RGPD)",
        "fr": "de portabilité de vos données (article 20 du RGPD)",
    },
}

TEXT = {
    "en": {
        "title": "Your personal data held by {controller}",
        "intro": (
            "This archive answers your request for {kind}, reference {reference}, received on "
            "{received}. It was prepared on {generated}. It holds every recording of your calls "
            "that {controller} keeps under the telephone numbers or the customer reference your "
            "request named ({recordings} recordings, {audio_files} of them with their audio), "
            "the consent decisions recorded for you, and the log of who accessed those "
            "recordings, when and why."
        ),
        "contents": "What the archive contains",
        "readme": "README.txt: this explanation.",
        "json": (
            "subject.json: your data in a structured, commonly used and machine-readable format "
            "(JSON, UTF-8), which you may hand on to another organisation (GDPR Article 20)."
        ),
        "audio": (
            "audio/: the audio of each recording still kept, exactly as it was recorded. Its "
            "SHA-256 fingerprint in subject.json lets you check that a file is unchanged."
        ),
        "conventions": (
            "Times are written in ISO 8601 with their offset from UTC (for example "
            "2026-11-28T09:15:00+01:00), dates as YYYY-MM-DD. Each coded value (for example "
            '"inbound") is followed by a field of the same name ending in "_label" that says '
            "it in words, in English. An empty value (null) means there is nothing to say."
        ),
        "fields": "What each field of subject.json means",
        "closing": (
            "If something is missing or wrong, you may ask for it to be corrected (GDPR Article "
            "16) or erased (Article 17), or object to its use (Article 21), quoting reference "
            "{reference}. You may also lodge a complaint with a data protection authority "
            "(Article 77)."
        ),
    },
    "es": {
        "title": "Sus datos personales en poder de {controller}",
        "intro": (
            "Este archivo responde a su solicitud de {kind}, con la referencia {reference}, "
            "recibida el {received}. Se preparó el {generated}. Contiene todas las grabaciones "
            "de sus llamadas que {controller} conserva con los números de teléfono o la "
            "referencia de cliente indicados en su solicitud ({recordings} grabaciones, "
            "{audio_files} de ellas con su audio), las decisiones de consentimiento registradas "
            "a su nombre y el registro de quién accedió a esas grabaciones, cuándo y por qué."
        ),
        "contents": "Contenido del archivo",
        "readme": "README.txt: esta explicación.",
        "json": (
            "subject.json: sus datos en un formato estructurado, de uso común y de lectura "
            "mecánica (JSON, UTF-8), que puede transmitir a otra organización (artículo 20 del "
            "RGPD)."
        ),
        "audio": (
            "audio/: el audio de cada grabación que aún se conserva, exactamente tal como se "
            "grabó. Su huella SHA-256, que figura en subject.json, le permite comprobar que el "
            "archivo no ha sido modificado."
        ),
        "conventions": (
            "Las horas se expresan en formato ISO 8601 con su diferencia respecto a UTC (por "
            "ejemplo, 2026-11-28T09:15:00+01:00) y las fechas como AAAA-MM-DD. Cada valor "
            'codificado (por ejemplo, "inbound") va seguido de un campo con el mismo nombre '
            'terminado en "_label" que lo expresa con palabras, en inglés. Un valor vacío '
            "(null) significa que no hay nada que indicar."
        ),
        "fields": "Significado de cada campo de subject.json",
        "closing": (
            "Si falta algún dato o alguno es inexacto, puede pedir su rectificación (artículo 16 "
            "del RGPD) o su supresión (artículo 17), u oponerse a su tratamiento (artículo 21), "
            "citando la referencia {reference}. También puede presentar una reclamación ante una "
            "autoridad de protección de datos (artículo 77)."
        ),
    },
    "fr": {
        "title": "Vos données personnelles détenues par {controller}",
        "intro": (
            "Cette archive répond à votre demande {kind}, référence {reference}, reçue le "
            "{received}. Elle a été préparée le {generated}. Elle contient tous les "
            "enregistrements de vos appels conservés par {controller} sous les numéros de "
            "téléphone ou la référence client indiqués dans votre demande ({recordings} "
            "enregistrements, dont {audio_files} avec leur audio), les décisions de consentement "
            "enregistrées à votre nom, et le journal des accès à ces enregistrements : qui, "
            "quand et pourquoi."
        ),
        "contents": "Contenu de l'archive",
        "readme": "README.txt : cette explication.",
        "json": (
            "subject.json : vos données dans un format structuré, couramment utilisé et lisible "
            "par machine (JSON, UTF-8), que vous pouvez transmettre à un autre organisme "
            "(article 20 du RGPD)."
        ),
        "audio": (
            "audio/ : l'audio de chaque enregistrement encore conservé, tel qu'il a été "
            "enregistré. Son empreinte SHA-256, indiquée dans subject.json, vous permet de "
            "vérifier que le fichier n'a pas été modifié."
        ),
        "conventions": (
            "Les heures sont écrites au format ISO 8601 avec leur décalage par rapport à UTC "
            "(par exemple 2026-11-28T09:15:00+01:00), les dates sous la forme AAAA-MM-JJ. Chaque "
            "valeur codée (par exemple « inbound ») est suivie d'un champ du même nom terminé "
            "par « _label » qui la dit en toutes lettres, en anglais. Une valeur vide (null) "
            "signifie qu'il n'y a rien à indiquer."
        ),
        "fields": "Signification de chaque champ de subject.json",
        "closing": (
            "Si une donnée manque ou est inexacte, vous pouvez en demander la rectification "
            "(article 16 du RGPD) ou l'effacement (article 17), ou vous opposer à son traitement "
            "(article 21), en rappelant la référence {reference}. Vous pouvez aussi introduire "
            "une réclamation auprès d'une autorité de protection des données, en France la CNIL "
            "(article 77)."
        ),
    },
}

# (section, field, explanations). Sections: "" for the top of the document, else the name of
# the object or list whose items hold the field.
FIELDS: list[tuple[str, str, dict[str, str]]] = [
    (
        "",
        "format_version",
        {
            "en": "The version of this file's format.",
            "es": "La versión del formato de este archivo.",
            "fr": "La version du format de ce fichier.",
        },
    ),
    (
        "",
        "generated_at",
        {
            "en": "When this archive was prepared.",
            "es": "Cuándo se preparó este archivo.",
            "fr": "Quand cette archive a été préparée.",
        },
    ),
    (
        "",
        "controller",
        {
            "en": "The organisation responsible for your data (the controller).",
            "es": "La organización responsable de sus datos (el responsable del tratamiento).",
            "fr": "L'organisme responsable de vos données (le responsable du traitement).",
        },
    ),
    (
        "",
        "staff_names_included",
        {
            "en": "true if the access log names the staff who acted, false if it gives only "
            "their role.",
            "es": "true si el registro de accesos nombra al personal que actuó, false si solo "
            "indica su función.",
            "fr": "true si le journal des accès nomme les membres du personnel, false s'il "
            "n'indique que leur fonction.",
        },
    ),
    (
        "request",
        "reference",
        {
            "en": "The reference of your request: quote it when you contact us.",
            "es": "La referencia de su solicitud: cítela cuando se ponga en contacto con nosotros.",
            "fr": "La référence de votre demande : rappelez-la si vous nous contactez.",
        },
    ),
    (
        "request",
        "kind",
        {
            "en": "What you asked for: access (Article 15) or portability (Article 20).",
            "es": "Lo que usted pidió: acceso (artículo 15) o portabilidad (artículo 20).",
            "fr": "Ce que vous avez demandé : l'accès (article 15) ou la portabilité (article 20).",
        },
    ),
    (
        "request",
        "received_at",
        {
            "en": "When your request was received.",
            "es": "Cuándo se recibió su solicitud.",
            "fr": "Quand votre demande a été reçue.",
        },
    ),
    (
        "request",
        "language",
        {
            "en": "The language of this explanation (en, es or fr).",
            "es": "El idioma de esta explicación (en, es o fr).",
            "fr": "La langue de cette explication (en, es ou fr).",
        },
    ),
    (
        "subject",
        "customer_numbers",
        {
            "en": "The telephone numbers your request named, in international format.",
            "es": "Los números de teléfono indicados en su solicitud, en formato internacional.",
            "fr": "Les numéros de téléphone indiqués dans votre demande, au format international.",
        },
    ),
    (
        "subject",
        "subject_reference",
        {
            "en": "The customer reference your request named, if any.",
            "es": "La referencia de cliente indicada en su solicitud, si la hay.",
            "fr": "La référence client indiquée dans votre demande, le cas échéant.",
        },
    ),
    (
        "recordings",
        "call_id",
        {
            "en": "The call's identifier in the recording system.",
            "es": "El identificador de la llamada en el sistema de grabación.",
            "fr": "L'identifiant de l'appel dans le système d'enregistrement.",
        },
    ),
    (
        "recordings",
        "started_at",
        {
            "en": "When the call started.",
            "es": "Cuándo empezó la llamada.",
            "fr": "Quand l'appel a commencé.",
        },
    ),
    (
        "recordings",
        "ended_at",
        {
            "en": "When the call ended.",
            "es": "Cuándo terminó la llamada.",
            "fr": "Quand l'appel s'est terminé.",
        },
    ),
    (
        "recordings",
        "duration_seconds",
        {
            "en": "How long the recording lasts, in seconds.",
            "es": "La duración de la grabación, en segundos.",
            "fr": "La durée de l'enregistrement, en secondes.",
        },
    ),
    (
        "recordings",
        "direction",
        {
            "en": "inbound: you called; outbound: you were called.",
            "es": "inbound: usted llamó; outbound: usted recibió la llamada.",
            "fr": "inbound : vous avez appelé ; outbound : vous avez été appelé.",
        },
    ),
    (
        "recordings",
        "customer_number",
        {
            "en": "Your telephone number on this call.",
            "es": "Su número de teléfono en esta llamada.",
            "fr": "Votre numéro de téléphone lors de cet appel.",
        },
    ),
    (
        "recordings",
        "subject_reference",
        {
            "en": "The customer reference attached to the call, if any.",
            "es": "La referencia de cliente asociada a la llamada, si la hay.",
            "fr": "La référence client associée à l'appel, le cas échéant.",
        },
    ),
    (
        "recordings",
        "purpose",
        {
            "en": "Why the call was recorded (for example quality monitoring or staff training).",
            "es": "Por qué se grabó la llamada (por ejemplo, control de calidad o formación del "
            "personal).",
            "fr": "Pourquoi l'appel a été enregistré (par exemple le contrôle qualité ou la "
            "formation du personnel).",
        },
    ),
    (
        "recordings",
        "legal_basis",
        {
            "en": "The legal ground of the recording (GDPR Article 6(1)): consent, contract, legal "
            "obligation or legitimate interest.",
            "es": "La base jurídica de la grabación (artículo 6, apartado 1, del RGPD): "
            "consentimiento, contrato, obligación legal o interés legítimo.",
            "fr": "Le fondement juridique de l'enregistrement (article 6, paragraphe 1, du RGPD) : "
            "consentement, contrat, obligation légale ou intérêt légitime.",
        },
    ),
    (
        "recordings",
        "retain_until",
        {
            "en": "The last day the recording may be kept; it is deleted after that day.",
            "es": "El último día en que puede conservarse la grabación; después se suprime.",
            "fr": "Le dernier jour où l'enregistrement peut être conservé ; il est supprimé "
            "ensuite.",
        },
    ),
    (
        "recordings",
        "status",
        {
            "en": "active: kept; purged: deleted at the end of its retention period; erased: "
            "deleted on request or after a consent was withdrawn.",
            "es": "active: se conserva; purged: suprimida al final de su plazo de conservación; "
            "erased: suprimida a petición o tras la retirada de un consentimiento.",
            "fr": "active : conservé ; purged : supprimé à la fin de sa durée de conservation ; "
            "erased : effacé sur demande ou après un retrait du consentement.",
        },
    ),
    (
        "recordings",
        "audio_file",
        {
            "en": "The recording's file in the audio/ folder; null when no audio is kept any more.",
            "es": "El archivo de la grabación en la carpeta audio/; null cuando ya no se conserva "
            "el audio.",
            "fr": "Le fichier de l'enregistrement dans le dossier audio/ ; null quand l'audio "
            "n'est plus conservé.",
        },
    ),
    (
        "recordings",
        "audio_content_type",
        {
            "en": "The audio's format (for example audio/wav).",
            "es": "El formato del audio (por ejemplo, audio/wav).",
            "fr": "Le format de l'audio (par exemple audio/wav).",
        },
    ),
    (
        "recordings",
        "audio_sha256",
        {
            "en": "The SHA-256 fingerprint of the audio file, taken when it was recorded.",
            "es": "La huella SHA-256 del archivo de audio, calculada cuando se grabó.",
            "fr": "L'empreinte SHA-256 du fichier audio, calculée lors de l'enregistrement.",
        },
    ),
    (
        "consents",
        "decision",
        {
            "en": "granted, refused or withdrawn.",
            "es": "granted (otorgado), refused (denegado) o withdrawn (retirado).",
            "fr": "granted (donné), refused (refusé) ou withdrawn (retiré).",
        },
    ),
    (
        "consents",
        "decided_at",
        {
            "en": "When you made this decision.",
            "es": "Cuándo tomó usted esta decisión.",
            "fr": "Quand vous avez pris cette décision.",
        },
    ),
    (
        "consents",
        "channel",
        {
            "en": "How it was given: a key pressed on the voice server (ivr), to an agent, on a "
            "web form or by e-mail.",
            "es": "Cómo se expresó: pulsando una tecla en el servidor de voz (ivr), a un agente, "
            "en un formulario web o por correo electrónico.",
            "fr": "Comment elle a été exprimée : touche du serveur vocal (ivr), auprès d'un "
            "conseiller, sur un formulaire web ou par e-mail.",
        },
    ),
    (
        "consents",
        "purpose",
        {
            "en": "The purpose of processing the decision is about.",
            "es": "La finalidad del tratamiento a la que se refiere la decisión.",
            "fr": "La finalité du traitement concernée par la décision.",
        },
    ),
    (
        "consents",
        "customer_number",
        {
            "en": "The telephone number the decision was given from.",
            "es": "El número de teléfono desde el que se expresó la decisión.",
            "fr": "Le numéro de téléphone depuis lequel la décision a été exprimée.",
        },
    ),
    (
        "access_log",
        "time",
        {
            "en": "When it happened.",
            "es": "Cuándo ocurrió.",
            "fr": "Quand cela s'est produit.",
        },
    ),
    (
        "access_log",
        "call_id",
        {
            "en": "The recording concerned (its call_id above).",
            "es": "La grabación afectada (su call_id, arriba).",
            "fr": "L'enregistrement concerné (son call_id, ci-dessus).",
        },
    ),
    (
        "access_log",
        "action",
        {
            "en": "What was done: recorded, details viewed, listening granted, played, "
            "downloaded, refused, checked.",
            "es": "Lo que se hizo: grabación, consulta de los datos, autorización de escucha, "
            "reproducción, descarga, denegación, verificación.",
            "fr": "Ce qui a été fait : enregistrement, consultation, autorisation d'écoute, "
            "écoute, téléchargement, refus, vérification.",
        },
    ),
    (
        "access_log",
        "actor_role",
        {
            "en": "Who acted, by their role: compliance officer, supervisor, quality analyst, "
            "auditor, platform operator, or an automated process or system.",
            "es": "Quién actuó, según su función: responsable de cumplimiento, supervisor, "
            "analista de calidad, auditor, operador de la plataforma, o un proceso o sistema "
            "automático.",
            "fr": "Qui a agi, par sa fonction : responsable de la conformité, superviseur, "
            "analyste qualité, auditeur, opérateur de la plateforme, ou un traitement ou "
            "système automatique.",
        },
    ),
    (
        "access_log",
        "actor_name",
        {
            "en": "The person's name, only if the organisation discloses its staff's names; "
            "otherwise null.",
            "es": "El nombre de la persona, solo si la organización comunica los nombres de su "
            "personal; si no, null.",
            "fr": "Le nom de la personne, uniquement si l'organisme communique les noms de son "
            "personnel ; sinon null.",
        },
    ),
    (
        "access_log",
        "purpose",
        {
            "en": "The purpose stated before listening (for example quality review or a "
            "complaint investigation); empty when none was needed.",
            "es": "La finalidad declarada antes de escuchar (por ejemplo, revisión de calidad o "
            "investigación de una reclamación); vacío cuando no se necesitaba.",
            "fr": "La finalité déclarée avant l'écoute (par exemple contrôle qualité ou "
            "traitement d'une réclamation) ; vide quand aucune n'était requise.",
        },
    ),
    (
        "access_log",
        "justification",
        {
            "en": "The reason the person wrote down.",
            "es": "El motivo que la persona anotó.",
            "fr": "Le motif que la personne a indiqué.",
        },
    ),
    (
        "access_log",
        "outcome",
        {
            "en": "allowed, or denied: the attempt was refused.",
            "es": "allowed (permitido) o denied (denegado: el intento fue rechazado).",
            "fr": "allowed (autorisé) ou denied (refusé : la tentative a été rejetée).",
        },
    ),
]

SECTION_TITLES = {
    "": {"en": "The document", "es": "El documento", "fr": "Le document"},
    "request": {"en": "request", "es": "request (solicitud)", "fr": "request (demande)"},
    "subject": {"en": "subject (you)", "es": "subject (usted)", "fr": "subject (vous)"},
    "recordings": {
        "en": "recordings: one entry per recording",
        "es": "recordings: una entrada por grabación",
        "fr": "recordings : une entrée par enregistrement",
    },
    "consents": {
        "en": "consents: one entry per consent decision",
        "es": "consents: una entrada por decisión de consentimiento",
        "fr": "consents : une entrée par décision de consentement",
    },
    "access_log": {
        "en": "access_log: one entry per event about your recordings",
        "es": "access_log: una entrada por cada acción sobre sus grabaciones",
        "fr": "access_log : une entrée par action sur vos enregistrements",
    },
}


def readme_text(
    *,
    language: str,
    kind: str,
    controller: str,
    reference: int,
    received: str,
    generated: str,
    recordings: int,
    audio_files: int,
) -> str:
    """README.txt in `language` (English when it is not one of LANGUAGES)."""
    language = language if language in LANGUAGES else "en"
    text = TEXT[language]
    values = {
        "controller": controller,
        "kind": KINDS.get(kind, KINDS["access"])[language],
        "reference": reference,
        "received": received,
        "generated": generated,
        "recordings": recordings,
        "audio_files": audio_files,
    }
    title = text["title"].format(**values)
    lines = [title, "=" * len(title), "", text["intro"].format(**values), ""]
    lines += [text["contents"], "-" * len(text["contents"]), ""]
    lines += [f"- {text[part]}" for part in ("readme", "json", "audio")]
    lines += ["", text["conventions"], "", text["fields"], "-" * len(text["fields"])]
    section = None
    for field_section, name, explanations in FIELDS:
        if field_section != section:
            section = field_section
            lines += ["", SECTION_TITLES[section][language], ""]
        label = " (+ _label)" if name in LABELLED else ""
        lines.append(f"- {name}{label}: {explanations[language]}")
    lines += ["", text["closing"].format(**values), ""]
    return "\n".join(lines)


# Fields followed by a "<name>_label" field saying the value in words.
LABELLED = {
    "kind",
    "direction",
    "purpose",
    "legal_basis",
    "status",
    "decision",
    "channel",
    "action",
    "actor_role",
    "outcome",
}
