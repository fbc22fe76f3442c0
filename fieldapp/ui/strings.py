"""Every word the app shows that is not part of a form, in English, French, Spanish and Arabic.

Form labels come from each FormSpec; validation messages from `fieldapp.i18n`. This is the
same catalogue pattern for the app's own words: a missing language falls back to English.
"""

from __future__ import annotations

from fieldapp.i18n import LANGUAGES, RTL_LANGUAGES

__all__ = ["LANGUAGES", "is_rtl", "t"]

# key: (English, French, Spanish, Arabic)
_TEXTS: dict[str, tuple[str, str, str, str]] = {
    "app_name": ("Fieldapp", "Fieldapp", "Fieldapp", "Fieldapp"),
    "continue": ("Continue", "Continuer", "Continuar", "متابعة"),
    "back": ("Back", "Retour", "Atrás", "رجوع"),
    "cancel": ("Cancel", "Annuler", "Cancelar", "إلغاء"),
    "yes": ("Yes", "Oui", "Sí", "نعم"),
    "no": ("No", "Non", "No", "لا"),
    "none": ("—", "—", "—", "—"),
    # first run
    "setup_language": (
        "Choose your language",
        "Choisissez votre langue",
        "Elija su idioma",
        "اختر لغتك",
    ),
    "setup_passphrase": (
        "Protect this device",
        "Protégez cet appareil",
        "Proteja este dispositivo",
        "احمِ هذا الجهاز",
    ),
    "passphrase_help": (
        "Choose a passphrase of several words. Without it nobody, not even you, can read"
        " the records on this device.",
        "Choisissez une phrase secrète de plusieurs mots. Sans elle, personne, pas même"
        " vous, ne peut lire les fiches de cet appareil.",
        "Elija una frase de contraseña de varias palabras. Sin ella nadie, ni siquiera"
        " usted, puede leer los registros de este dispositivo.",
        "اختر عبارة مرور من عدة كلمات. بدونها لا يستطيع أحد، ولا حتى أنت، قراءة السجلات"
        " على هذا الجهاز.",
    ),
    "passphrase": ("Passphrase", "Phrase secrète", "Frase de contraseña", "عبارة المرور"),
    "passphrase_again": (
        "Repeat the passphrase",
        "Répétez la phrase secrète",
        "Repita la frase de contraseña",
        "أعد كتابة عبارة المرور",
    ),
    "passphrase_mismatch": (
        "The two passphrases are different.",
        "Les deux phrases secrètes sont différentes.",
        "Las dos frases de contraseña son distintas.",
        "عبارتا المرور مختلفتان.",
    ),
    "passphrase_weak": (
        "Too easy to guess: use at least 10 characters, several words.",
        "Trop facile à deviner : au moins 10 caractères, plusieurs mots.",
        "Demasiado fácil de adivinar: al menos 10 caracteres, varias palabras.",
        "سهلة التخمين: استخدم 10 أحرف على الأقل وعدة كلمات.",
    ),
    "protect": ("Protect this device", "Protéger l'appareil", "Proteger", "احمِ الجهاز"),
    "setup_server": (
        "Connect to your organisation",
        "Connectez-vous à votre organisation",
        "Conéctese a su organización",
        "اتصل بمنظمتك",
    ),
    "server_help": (
        "Your coordinator gives you the server address and a one-time code of 8 groups of 4"
        " letters and digits, or a QR image with both.",
        "Votre coordinateur vous donne l'adresse du serveur et un code à usage unique de 8"
        " groupes de 4 lettres et chiffres, ou une image QR qui contient les deux.",
        "Su coordinador le da la dirección del servidor y un código de un solo uso de 8 grupos"
        " de 4 letras y números, o una imagen QR con ambos.",
        "يعطيك المنسق عنوان الخادم ورمزًا يُستخدم مرة واحدة من 8 مجموعات من 4 أحرف وأرقام، أو"
        " صورة QR تحتوي على كليهما.",
    ),
    "server_url": (
        "Server address",
        "Adresse du serveur",
        "Dirección del servidor",
        "عنوان الخادم",
    ),
    "enrol_code": ("Enrolment code", "Code d'inscription", "Código de inscripción", "رمز التسجيل"),
    "connect": ("Connect", "Se connecter", "Conectar", "اتصال"),
    "work_offline": (
        "Work offline for now",
        "Travailler hors ligne pour l'instant",
        "Trabajar sin conexión por ahora",
        "العمل دون اتصال الآن",
    ),
    "connected_ok": (
        "Connected to your organisation.",
        "Connecté à votre organisation.",
        "Conectado a su organización.",
        "تم الاتصال بمنظمتك.",
    ),
    "insecure_url": (
        "Use an address that starts with https://",
        "Utilisez une adresse qui commence par https://",
        "Use una dirección que empiece por https://",
        "استخدم عنوانًا يبدأ بـ https://",
    ),
    "code_refused": (
        "The code was not accepted: {detail}",
        "Le code n'a pas été accepté : {detail}",
        "El código no fue aceptado: {detail}",
        "لم يُقبل الرمز: {detail}",
    ),
    "code_malformed": (
        "That is not a whole enrolment code: a code has 8 groups of 4 letters and digits. An"
        " older code of 4 groups no longer works: ask your coordinator for a new one.",
        "Ce n'est pas un code d'inscription complet : un code compte 8 groupes de 4 lettres et"
        " chiffres. Un ancien code de 4 groupes ne fonctionne plus : demandez-en un nouveau à"
        " votre coordinateur.",
        "Ese no es un código de inscripción completo: un código tiene 8 grupos de 4 letras y"
        " números. Un código antiguo de 4 grupos ya no sirve: pida uno nuevo a su coordinador.",
        "هذا ليس رمز تسجيل كاملًا: يتكون الرمز من 8 مجموعات من 4 أحرف وأرقام. الرمز القديم"
        " المكوّن من 4 مجموعات لم يعد يعمل: اطلب رمزًا جديدًا من المنسق.",
    ),
    "enrol_untrusted": (
        "The server's answer does not match this code: nothing was saved on this device."
        " Someone may be intercepting the connection. Tell your coordinator, ask for a new"
        " code and connect from another network.",
        "La réponse du serveur ne correspond pas à ce code : rien n'a été enregistré sur cet"
        " appareil. Quelqu'un intercepte peut-être la connexion. Prévenez votre coordinateur,"
        " demandez un nouveau code et connectez-vous depuis un autre réseau.",
        "La respuesta del servidor no coincide con este código: no se guardó nada en este"
        " dispositivo. Alguien podría estar interceptando la conexión. Avise a su coordinador,"
        " pida un código nuevo y conéctese desde otra red.",
        "رد الخادم لا يطابق هذا الرمز: لم يُحفظ أي شيء على هذا الجهاز. ربما يعترض أحدهم"
        " الاتصال. أبلغ المنسق واطلب رمزًا جديدًا واتصل من شبكة أخرى.",
    ),
    "scan_qr": (
        "Scan a QR image",
        "Scanner une image QR",
        "Escanear una imagen QR",
        "مسح صورة رمز QR",
    ),
    "qr_read": (
        "Server address and code read from the QR image. Check the address, then tap Connect.",
        "Adresse du serveur et code lus dans l'image QR. Vérifiez l'adresse, puis touchez"
        " Se connecter.",
        "Dirección del servidor y código leídos de la imagen QR. Compruebe la dirección y"
        " toque Conectar.",
        "تمت قراءة عنوان الخادم والرمز من صورة QR. تحقق من العنوان ثم اضغط اتصال.",
    ),
    "qr_not_found": (
        "No QR code was found in that image. Choose a sharp picture that shows the whole code.",
        "Aucun code QR n'a été trouvé dans cette image. Choisissez une photo nette qui montre"
        " tout le code.",
        "No se encontró ningún código QR en esa imagen. Elija una foto nítida que muestre"
        " todo el código.",
        "لم يُعثر على رمز QR في هذه الصورة. اختر صورة واضحة تُظهر الرمز كاملًا.",
    ),
    "qr_unreadable": (
        "The QR code in that image could not be read. Choose a sharper, closer picture.",
        "Le code QR de cette image n'a pas pu être lu. Choisissez une photo plus nette, prise"
        " de plus près.",
        "No se pudo leer el código QR de esa imagen. Elija una foto más nítida y cercana.",
        "تعذرت قراءة رمز QR في هذه الصورة. اختر صورة أوضح وأقرب.",
    ),
    "qr_not_enrolment": (
        "That QR code is not a fieldapp enrolment code. Ask your coordinator for one.",
        "Ce code QR n'est pas un code d'inscription fieldapp. Demandez-en un à votre coordinateur.",
        "Ese código QR no es un código de inscripción de fieldapp. Pida uno a su coordinador.",
        "رمز QR هذا ليس رمز تسجيل في fieldapp. اطلب واحدًا من المنسق.",
    ),
    # lock
    "locked_title": ("Locked", "Verrouillé", "Bloqueado", "مقفل"),
    "locked_help": (
        "Enter your passphrase to see your records.",
        "Saisissez votre phrase secrète pour voir vos fiches.",
        "Introduzca su frase de contraseña para ver sus registros.",
        "أدخل عبارة المرور لرؤية سجلاتك.",
    ),
    "unlock": ("Unlock", "Déverrouiller", "Desbloquear", "فتح القفل"),
    "wrong_passphrase": (
        "Wrong passphrase. After too many wrong tries this device erases its data.",
        "Phrase secrète incorrecte. Après trop d'essais, l'appareil efface ses données.",
        "Frase incorrecta. Tras demasiados intentos el dispositivo borra sus datos.",
        "عبارة مرور خاطئة. بعد محاولات كثيرة يمسح الجهاز بياناته.",
    ),
    "wiped_title": (
        "This device was wiped",
        "Cet appareil a été effacé",
        "Este dispositivo fue borrado",
        "تم مسح هذا الجهاز",
    ),
    "wiped_help": (
        "Its records can no longer be read. Set it up again to keep working.",
        "Ses fiches ne peuvent plus être lues. Configurez-le à nouveau pour continuer.",
        "Sus registros ya no se pueden leer. Configúrelo de nuevo para seguir.",
        "لم يعد من الممكن قراءة سجلاته. أعد إعداده لمواصلة العمل.",
    ),
    "store_unreadable_title": (
        "The records on this device cannot be opened",
        "Les fiches de cet appareil ne peuvent pas être ouvertes",
        "No se pueden abrir los registros de este dispositivo",
        "لا يمكن فتح سجلات هذا الجهاز",
    ),
    "store_unreadable": (
        "The file {path} is damaged or cannot be read. It was left exactly as it is: do not"
        " set this device up again, ask your coordinator for help to recover it.",
        "Le fichier {path} est endommagé ou illisible. Il a été laissé tel quel : ne"
        " configurez pas cet appareil à nouveau, demandez de l'aide à votre coordinateur pour"
        " le récupérer.",
        "El archivo {path} está dañado o no se puede leer. Se dejó tal cual: no vuelva a"
        " configurar este dispositivo, pida ayuda a su coordinador para recuperarlo.",
        "الملف {path} تالف أو تتعذر قراءته. تُرك كما هو تمامًا: لا تُعِد إعداد هذا الجهاز،"
        " واطلب من المنسق المساعدة لاستعادته.",
    ),
    "storage_full": (
        "This device's storage is full: the last change could not be saved. Everything saved"
        " before is safe. Free some space (delete photos, videos or apps you do not need),"
        " then try again.",
        "La mémoire de cet appareil est pleine : la dernière modification n'a pas pu être"
        " enregistrée. Tout ce qui a été enregistré avant est en sécurité. Libérez de la place"
        " (supprimez des photos, vidéos ou applications inutiles), puis réessayez.",
        "El almacenamiento de este dispositivo está lleno: el último cambio no se pudo"
        " guardar. Todo lo guardado antes está a salvo. Libere espacio (borre fotos, vídeos o"
        " aplicaciones que no necesite) y vuelva a intentarlo.",
        "ذاكرة هذا الجهاز ممتلئة: تعذر حفظ آخر تغيير. كل ما حُفظ من قبل في أمان. أفرغ بعض"
        " المساحة (احذف صورًا أو مقاطع فيديو أو تطبيقات لا تحتاجها) ثم حاول مجددًا.",
    ),
    "set_up_again": ("Set up again", "Configurer à nouveau", "Configurar de nuevo", "أعد الإعداد"),
    "lock_now": ("Lock now", "Verrouiller", "Bloquear ahora", "اقفل الآن"),
    # home and navigation
    "home": ("Home", "Accueil", "Inicio", "الرئيسية"),
    "records": ("Records", "Fiches", "Registros", "السجلات"),
    "sync": ("Sync", "Synchroniser", "Sincronizar", "مزامنة"),
    "settings": ("Settings", "Paramètres", "Ajustes", "الإعدادات"),
    "new_screening": (
        "Identify a victim",
        "Identifier une victime",
        "Identificar a una víctima",
        "تحديد ضحية",
    ),
    "training": (
        "Training attendance",
        "Présence aux formations",
        "Asistencia a formaciones",
        "حضور التدريب",
    ),
    "other_forms": ("Other forms", "Autres formulaires", "Otros formularios", "نماذج أخرى"),
    "attention": ("Needs attention", "À traiter", "Requiere atención", "يحتاج إلى متابعة"),
    "all_clear": (
        "Nothing is waiting. Every record is sent.",
        "Rien n'attend. Toutes les fiches sont envoyées.",
        "Nada pendiente. Todos los registros se enviaron.",
        "لا شيء بانتظارك. أُرسلت كل السجلات.",
    ),
    "online": ("Online", "En ligne", "En línea", "متصل"),
    "offline": ("Offline", "Hors ligne", "Sin conexión", "غير متصل"),
    "offline_mode": (
        "Working offline: records stay on this device.",
        "Hors ligne : les fiches restent sur cet appareil.",
        "Sin conexión: los registros quedan en este dispositivo.",
        "العمل دون اتصال: تبقى السجلات على هذا الجهاز.",
    ),
    "last_sync": (
        "Last sync: {when}",
        "Dernière synchro : {when}",
        "Última sincronización: {when}",
        "آخر مزامنة: {when}",
    ),
    "never_synced": (
        "Never synced",
        "Jamais synchronisé",
        "Nunca sincronizado",
        "لم تتم المزامنة بعد",
    ),
    # statuses
    "status_draft": ("Drafts", "Brouillons", "Borradores", "مسودات"),
    "status_waiting": ("Waiting to send", "En attente d'envoi", "Por enviar", "بانتظار الإرسال"),
    "status_sent": ("Sent", "Envoyées", "Enviados", "مُرسلة"),
    "status_rejected": ("Rejected", "Refusées", "Rechazados", "مرفوضة"),
    "status_conflict": ("Conflicts", "Conflits", "Conflictos", "تعارضات"),
    # the form wizard
    "step_of": (
        "Step {n} of {total}",
        "Étape {n} sur {total}",
        "Paso {n} de {total}",
        "الخطوة {n} من {total}",
    ),
    "next": ("Next", "Suivant", "Siguiente", "التالي"),
    "previous": ("Previous", "Précédent", "Anterior", "السابق"),
    "review": ("Review", "Vérifier", "Revisar", "مراجعة"),
    "finalise": ("Finalise", "Finaliser", "Finalizar", "إنهاء"),
    "saved_draft": (
        "Saved on this device, encrypted.",
        "Enregistré sur cet appareil, chiffré.",
        "Guardado en este dispositivo, cifrado.",
        "محفوظ على هذا الجهاز ومشفّر.",
    ),
    "fix_errors": (
        "Some answers need attention.",
        "Certaines réponses sont à corriger.",
        "Algunas respuestas requieren atención.",
        "بعض الإجابات تحتاج إلى تصحيح.",
    ),
    "consent_first": (
        "Answer every consent question before going on.",
        "Répondez à chaque question de consentement avant de continuer.",
        "Responda cada pregunta de consentimiento antes de seguir.",
        "أجب عن كل أسئلة الموافقة قبل المتابعة.",
    ),
    "finalised": (
        "Finalised. It will be sent at the next sync.",
        "Finalisée. Elle sera envoyée à la prochaine synchro.",
        "Finalizado. Se enviará en la próxima sincronización.",
        "تم الإنهاء. سيُرسل في المزامنة القادمة.",
    ),
    "child_alert_title": (
        "Child protection referral",
        "Orientation vers la protection de l'enfance",
        "Derivación a protección infantil",
        "إحالة إلى حماية الطفل",
    ),
    "child_alert_body": (
        "This person may be a child. Refer them to child protection services now, and do"
        " not continue the interview without a guardian or child protection officer.",
        "Cette personne est peut-être un enfant. Orientez-la maintenant vers la protection"
        " de l'enfance et ne poursuivez pas l'entretien sans tuteur ou agent de protection.",
        "Esta persona puede ser un niño. Derívela ahora a protección infantil y no siga la"
        " entrevista sin un tutor o un agente de protección.",
        "قد يكون هذا الشخص طفلًا. أحِله الآن إلى خدمات حماية الطفل ولا تتابع المقابلة"
        " دون ولي أمر أو موظف حماية.",
    ),
    "add_entry": ("Add", "Ajouter", "Añadir", "إضافة"),
    "save_and_next": (
        "Save & next",
        "Enregistrer et suivant",
        "Guardar y siguiente",
        "حفظ والتالي",
    ),
    "done": ("Done", "Terminé", "Listo", "تم"),
    "remove": ("Remove", "Retirer", "Quitar", "إزالة"),
    "edit": ("Edit", "Modifier", "Editar", "تعديل"),
    "entries": ("{n} entries", "{n} entrées", "{n} entradas", "{n} إدخالات"),
    "search_choice": ("Search", "Rechercher", "Buscar", "بحث"),
    "chosen": ("{label}", "{label}", "{label}", "{label}"),
    "change": ("Change", "Changer", "Cambiar", "تغيير"),
    "date_hint": ("YYYY-MM-DD", "AAAA-MM-JJ", "AAAA-MM-DD", "YYYY-MM-DD"),
    "geopoint_hint": (
        "latitude longitude",
        "latitude longitude",
        "latitud longitud",
        "خط العرض خط الطول",
    ),
    "required_mark": ("required", "obligatoire", "obligatorio", "مطلوب"),
    "problems_from_server": (
        "The server could not accept this record:",
        "Le serveur n'a pas pu accepter cette fiche :",
        "El servidor no pudo aceptar este registro:",
        "لم يتمكن الخادم من قبول هذا السجل:",
    ),
    "fix_and_resend": (
        "Fix and resend",
        "Corriger et renvoyer",
        "Corregir y reenviar",
        "صحّح وأعد الإرسال",
    ),
    "discard": ("Delete this draft", "Supprimer ce brouillon", "Eliminar borrador", "احذف المسودة"),
    # training
    "events": ("Events", "Événements", "Eventos", "الفعاليات"),
    "new_event": ("New event", "Nouvel événement", "Nuevo evento", "فعالية جديدة"),
    "no_events": (
        "No events yet.",
        "Aucun événement pour l'instant.",
        "Aún no hay eventos.",
        "لا توجد فعاليات بعد.",
    ),
    "participants_count": (
        "{n} participants",
        "{n} participants",
        "{n} participantes",
        "{n} مشاركين",
    ),
    "day_n": ("Day {n}", "Jour {n}", "Día {n}", "اليوم {n}"),
    "present_count": ("{n} present", "{n} présents", "{n} presentes", "{n} حاضرون"),
    # the training event's tabs: short, so all four fit side by side on a 360 px phone
    "tab_details": ("Details", "Détails", "Detalles", "التفاصيل"),
    "tab_participants": ("Participants", "Participants", "Participantes", "المشاركون"),
    "tab_checkin": ("Check-in", "Présence", "Asistencia", "الحضور"),
    "tab_summary": ("Summary", "Résumé", "Resumen", "الملخص"),
    "by_sex": ("By sex", "Par sexe", "Por sexo", "حسب الجنس"),
    "by_profession": ("By profession", "Par profession", "Por profesión", "حسب المهنة"),
    "avg_scores": (
        "Average score: before {pre}, after {post}",
        "Score moyen : avant {pre}, après {post}",
        "Puntuación media: antes {pre}, después {post}",
        "متوسط الدرجات: قبل {pre}، بعد {post}",
    ),
    "open_event": ("Open", "Ouvrir", "Abrir", "فتح"),
    "search_participants": (
        "Search participants",
        "Rechercher un participant",
        "Buscar participantes",
        "ابحث عن مشارك",
    ),
    "team_search": (
        "Search the team's participants",
        "Rechercher parmi les participants de l'équipe",
        "Buscar entre los participantes del equipo",
        "ابحث في مشاركي الفريق",
    ),
    "team_search_hint": (
        "A name: people registered by anyone in your team",
        "Un nom : les personnes inscrites par un membre de votre équipe",
        "Un nombre: personas registradas por cualquier miembro de su equipo",
        "اسم: أشخاص سجّلهم أي عضو في فريقك",
    ),
    "team_search_unavailable": (
        "Team search is unavailable: this device has no team key (ask your coordinator for"
        " an enrolment code that includes it).",
        "La recherche dans l'équipe n'est pas disponible : cet appareil n'a pas la clé"
        " d'équipe (demandez à votre coordinateur un code d'inscription qui la contient).",
        "La búsqueda en el equipo no está disponible: este dispositivo no tiene la clave del"
        " equipo (pida a su coordinador un código de registro que la incluya).",
        "البحث في مشاركي الفريق غير متاح: لا يملك هذا الجهاز مفتاح الفريق (اطلب من منسّقك"
        " رمز تسجيل يتضمّنه).",
    ),
    "team_no_match": (
        "Nobody of that name yet: add them below.",
        "Personne de ce nom pour l'instant : ajoutez la personne ci-dessous.",
        "Nadie con ese nombre todavía: añádalo abajo.",
        "لا أحد بهذا الاسم بعد: أضفه أدناه.",
    ),
    "team_registered_at": (
        "Registered at: {event}",
        "Inscrit(e) à : {event}",
        "Registrado/a en: {event}",
        "مسجّل في: {event}",
    ),
    "team_add": ("Add", "Ajouter", "Añadir", "أضف"),
    "participant_added": (
        "Added to this event with their details: check them and mark attendance.",
        "Ajouté(e) à cet événement avec ses coordonnées : vérifiez-les et notez la présence.",
        "Añadido/a a este evento con sus datos: revíselos y marque la asistencia.",
        "أُضيف إلى هذه الفعالية مع بياناته: راجعها وسجّل الحضور.",
    ),
    # records
    "no_records": ("No records here.", "Aucune fiche ici.", "No hay registros.", "لا توجد سجلات."),
    "page_info": (
        "{first}–{last} of {total}",
        "{first}–{last} sur {total}",
        "{first}–{last} de {total}",
        "{first}–{last} من {total}",
    ),
    "next_page": ("Next page", "Page suivante", "Página siguiente", "الصفحة التالية"),
    "first_page": ("First page", "Première page", "Primera página", "الصفحة الأولى"),
    "problem_count": ("{n} problems", "{n} problèmes", "{n} problemas", "{n} مشكلات"),
    # sync
    "sync_now": ("Sync now", "Synchroniser maintenant", "Sincronizar ahora", "زامن الآن"),
    "syncing": ("Syncing…", "Synchronisation…", "Sincronizando…", "جارٍ المزامنة…"),
    "sync_progress": (
        "{done} of {total} records · {size}",
        "{done} sur {total} fiches · {size}",
        "{done} de {total} registros · {size}",
        "{done} من {total} سجلات · {size}",
    ),
    "sync_result": (
        "Sent {sent}, rejected {rejected}, conflicts {conflict}, received {pulled}.",
        "Envoyées {sent}, refusées {rejected}, conflits {conflict}, reçues {pulled}.",
        "Enviados {sent}, rechazados {rejected}, conflictos {conflict}, recibidos {pulled}.",
        "أُرسل {sent}، رُفض {rejected}، تعارضات {conflict}، استُلم {pulled}.",
    ),
    "sync_clock_skew": (
        "Sent {sent}, rejected {rejected}, conflicts {conflict}, received {pulled}. This"
        " device's clock is about {minutes} minutes off the server's: set its date and time.",
        "Envoyées {sent}, refusées {rejected}, conflits {conflict}, reçues {pulled}. L'horloge"
        " de cet appareil s'écarte d'environ {minutes} minutes de celle du serveur : réglez sa"
        " date et son heure.",
        "Enviados {sent}, rechazados {rejected}, conflictos {conflict}, recibidos {pulled}. El"
        " reloj de este dispositivo difiere unos {minutes} minutos del del servidor: ajuste su"
        " fecha y hora.",
        "أُرسل {sent}، رُفض {rejected}، تعارضات {conflict}، استُلم {pulled}. تختلف ساعة هذا"
        " الجهاز عن ساعة الخادم بنحو {minutes} دقيقة: اضبط التاريخ والوقت.",
    ),
    "sync_unreachable": (
        "The server cannot be reached. Your records are safe on this device and will be"
        " sent when the connection comes back.",
        "Le serveur est injoignable. Vos fiches sont en sécurité sur cet appareil et"
        " partiront au retour de la connexion.",
        "No se puede contactar con el servidor. Sus registros están seguros en este"
        " dispositivo y se enviarán cuando vuelva la conexión.",
        "لا يمكن الوصول إلى الخادم. سجلاتك آمنة على هذا الجهاز وستُرسل عند عودة الاتصال.",
    ),
    "server_degraded": (
        "The server is up but cannot store records right now. Your records are safe on this"
        " device and will be sent later.",
        "Le serveur répond mais ne peut pas enregistrer de fiches pour le moment. Vos fiches"
        " sont en sécurité sur cet appareil et partiront plus tard.",
        "El servidor responde pero ahora no puede guardar registros. Sus registros están"
        " seguros en este dispositivo y se enviarán más tarde.",
        "الخادم يعمل لكنه لا يستطيع حفظ السجلات الآن. سجلاتك آمنة على هذا الجهاز وستُرسل لاحقًا.",
    ),
    "sync_refused": (
        "The server refused: {detail}",
        "Le serveur a refusé : {detail}",
        "El servidor rechazó: {detail}",
        "رفض الخادم: {detail}",
    ),
    "not_enrolled": (
        "This device is not connected to a server yet. Connect it in Settings.",
        "Cet appareil n'est pas encore relié à un serveur. Reliez-le dans les paramètres.",
        "Este dispositivo aún no está conectado a un servidor. Conéctelo en Ajustes.",
        "هذا الجهاز غير متصل بخادم بعد. اربطه من الإعدادات.",
    ),
    "sync_problem": (
        "Some records could not be sent: {detail}",
        "Certaines fiches n'ont pas pu partir : {detail}",
        "Algunos registros no se enviaron: {detail}",
        "تعذر إرسال بعض السجلات: {detail}",
    ),
    # settings
    "language": ("Language", "Langue", "Idioma", "اللغة"),
    "theme": ("Appearance", "Apparence", "Apariencia", "المظهر"),
    "theme_light": ("Light", "Clair", "Claro", "فاتح"),
    "theme_dark": ("Dark", "Sombre", "Oscuro", "داكن"),
    "autolock": (
        "Lock after inactivity",
        "Verrouiller après inactivité",
        "Bloquear tras inactividad",
        "القفل بعد الخمول",
    ),
    "minutes": ("{n} min", "{n} min", "{n} min", "{n} د"),
    "server": ("Server", "Serveur", "Servidor", "الخادم"),
    "not_connected": ("Not connected", "Non connecté", "No conectado", "غير متصل بخادم"),
    "about": ("About", "À propos", "Acerca de", "حول"),
    "version": ("Version {v}", "Version {v}", "Versión {v}", "الإصدار {v}"),
    "about_text": (
        "Offline-first data collection for anti-trafficking programmes. Records are"
        " encrypted on this device and sealed for your organisation.",
        "Collecte de données hors ligne pour la lutte contre la traite. Les fiches sont"
        " chiffrées sur l'appareil et scellées pour votre organisation.",
        "Recogida de datos sin conexión para programas contra la trata. Los registros se"
        " cifran en el dispositivo y se sellan para su organización.",
        "جمع البيانات دون اتصال لبرامج مكافحة الاتجار بالبشر. تُشفّر السجلات على الجهاز"
        " وتُختم لمنظمتك.",
    ),
    "wipe": (
        "Sign out and wipe this device",
        "Se déconnecter et effacer l'appareil",
        "Cerrar sesión y borrar el dispositivo",
        "تسجيل الخروج ومسح الجهاز",
    ),
    "wipe_confirm": (
        "Erase every record and key on this device? Records not yet sent are lost.",
        "Effacer toutes les fiches et clés de cet appareil ? Les fiches non envoyées"
        " seront perdues.",
        "¿Borrar todos los registros y claves? Los registros no enviados se perderán.",
        "مسح كل السجلات والمفاتيح على هذا الجهاز؟ ستضيع السجلات غير المرسلة.",
    ),
    "status_shared": (
        "Shared by your organisation",
        "Partagé par votre organisation",
        "Compartido por su organización",
        "شاركته منظمتك",
    ),
    "conflict_title": (
        "Edited in two places",
        "Modifiée à deux endroits",
        "Editado en dos lugares",
        "عُدّل في مكانين",
    ),
    "conflict_body": (
        "Someone else changed this record while you were offline. You see your version;"
        " the other one is sealed for the office.",
        "Quelqu'un d'autre a modifié cette fiche pendant que vous étiez hors ligne. Vous"
        " voyez votre version ; l'autre est scellée pour le bureau.",
        "Otra persona cambió este registro mientras usted estaba sin conexión. Usted ve"
        " su versión; la otra está sellada para la oficina.",
        "غيّر شخص آخر هذا السجل أثناء عملك دون اتصال. ترى نسختك؛ أما الأخرى فمختومة للمكتب.",
    ),
    "conflict_mine_newest": (
        "Your version is the newest one on the server. The office keeps the other version"
        " too and will check them both.",
        "Votre version est la plus récente sur le serveur. Le bureau garde aussi l'autre"
        " version et vérifiera les deux.",
        "Su versión es la más reciente en el servidor. La oficina conserva también la otra"
        " versión y revisará ambas.",
        "نسختك هي الأحدث على الخادم. يحتفظ المكتب بالنسخة الأخرى أيضًا وسيراجع النسختين.",
    ),
    "superseded_note": (
        "The office kept another version of this record. Yours is kept on this device; any"
        " edit you make now builds on the office's version.",
        "Le bureau a gardé une autre version de cette fiche. La vôtre reste sur cet appareil ;"
        " toute modification que vous faites maintenant part de la version du bureau.",
        "La oficina conservó otra versión de este registro. La suya se guarda en este"
        " dispositivo; cualquier cambio que haga ahora parte de la versión de la oficina.",
        "احتفظ المكتب بنسخة أخرى من هذا السجل. نسختك محفوظة على هذا الجهاز؛ وأي تعديل تجريه"
        " الآن يُبنى على نسخة المكتب.",
    ),
    "superseded_marker": (
        "Office kept another version",
        "Le bureau a gardé une autre version",
        "La oficina conservó otra versión",
        "احتفظ المكتب بنسخة أخرى",
    ),
    "problem_unknown_form_version": (
        "Your office has not published this version of the form on the server yet. Nothing"
        " is lost: send it again once they have.",
        "Votre bureau n'a pas encore publié cette version du formulaire sur le serveur. Rien"
        " n'est perdu : renvoyez-la quand ce sera fait.",
        "Su oficina aún no ha publicado esta versión del formulario en el servidor. No se"
        " pierde nada: envíelo de nuevo cuando lo haya hecho.",
        "لم ينشر مكتبك هذه النسخة من الاستمارة على الخادم بعد. لم يضع شيء: أعد الإرسال بعد نشرها.",
    ),
    "keep_mine": (
        "Keep my version",
        "Garder ma version",
        "Conservar mi versión",
        "احتفظ بنسختي",
    ),
    "office_decides": (
        "Let the office decide",
        "Laisser le bureau décider",
        "Que decida la oficina",
        "دع المكتب يقرر",
    ),
    "kept_mine": (
        "Your version will be sent at the next sync, as the newest one. The office keeps the"
        " other version too and will check them both.",
        "Votre version sera envoyée à la prochaine synchronisation, comme la plus récente. Le"
        " bureau garde aussi l'autre version et vérifiera les deux.",
        "Su versión se enviará en la próxima sincronización, como la más reciente. La oficina"
        " conserva también la otra versión y revisará ambas.",
        "ستُرسل نسختك في المزامنة التالية بوصفها الأحدث. يحتفظ المكتب بالنسخة الأخرى أيضًا"
        " وسيراجع النسختين.",
    ),
    # merging the two versions of a record in conflict
    "compare_merge": (
        "Compare and merge",
        "Comparer et fusionner",
        "Comparar y combinar",
        "قارن وادمج",
    ),
    "merge_title": (
        "Merge the two versions",
        "Fusionner les deux versions",
        "Combinar las dos versiones",
        "ادمج النسختين",
    ),
    "merge_help": (
        "For each difference, choose the answer to keep. Yours is kept unless you pick the"
        " other version's.",
        "Pour chaque différence, choisissez la réponse à garder. La vôtre est gardée sauf si"
        " vous choisissez celle de l'autre version.",
        "Para cada diferencia, elija la respuesta que se conserva. Se conserva la suya salvo"
        " que elija la de la otra versión.",
        "اختر لكل اختلاف الإجابة التي تُحفظ. تُحفظ إجابتك ما لم تختر إجابة النسخة الأخرى.",
    ),
    "merge_mine": (
        "Mine: {value}",
        "La mienne : {value}",
        "La mía: {value}",
        "نسختي: {value}",
    ),
    "merge_theirs": (
        "Other version: {value}",
        "Autre version : {value}",
        "Otra versión: {value}",
        "النسخة الأخرى: {value}",
    ),
    "merge_same": (
        "The answers you can see here are the same in both versions.",
        "Les réponses visibles ici sont les mêmes dans les deux versions.",
        "Las respuestas que se ven aquí son iguales en las dos versiones.",
        "الإجابات الظاهرة هنا متطابقة في النسختين.",
    ),
    "merge_only_theirs": (
        "Only in the other version",
        "Seulement dans l'autre version",
        "Solo en la otra versión",
        "في النسخة الأخرى فقط",
    ),
    "merge_add": ("Add {name}", "Ajouter {name}", "Añadir {name}", "أضف {name}"),
    "merge_add_unknown": (
        "Add this entry (its name and contact details are held by the office)",
        "Ajouter cette entrée (son nom et ses coordonnées sont au bureau)",
        "Añadir esta entrada (su nombre y sus datos de contacto los tiene la oficina)",
        "أضف هذا الإدخال (اسمه وبيانات الاتصال به لدى المكتب)",
    ),
    "merge_office_note": (
        "Only the office can see the other version's personal details (names, places, notes)."
        " They may differ from yours: the office keeps both versions and will check them.",
        "Seul le bureau peut voir les données personnelles de l'autre version (noms, lieux,"
        " notes). Elles peuvent différer des vôtres : le bureau garde les deux versions et les"
        " vérifiera.",
        "Solo la oficina puede ver los datos personales de la otra versión (nombres, lugares,"
        " notas). Pueden ser distintos de los suyos: la oficina conserva las dos versiones y"
        " las revisará.",
        "لا يرى البيانات الشخصية في النسخة الأخرى (الأسماء والأماكن والملاحظات) إلا المكتب."
        " قد تختلف عن بياناتك: يحتفظ المكتب بالنسختين وسيراجعهما.",
    ),
    "send_merge": (
        "Send merged version",
        "Envoyer la version fusionnée",
        "Enviar la versión combinada",
        "أرسل النسخة المدمجة",
    ),
    "merge_sent": (
        "Your merged version will be sent at the next sync, as the newest one. The office"
        " keeps the other version too and will check its personal details.",
        "Votre version fusionnée sera envoyée à la prochaine synchronisation, comme la plus"
        " récente. Le bureau garde aussi l'autre version et vérifiera ses données personnelles.",
        "Su versión combinada se enviará en la próxima sincronización, como la más reciente."
        " La oficina conserva también la otra versión y revisará sus datos personales.",
        "ستُرسل نسختك المدمجة في المزامنة التالية بوصفها الأحدث. يحتفظ المكتب بالنسخة الأخرى"
        " أيضًا وسيراجع بياناتها الشخصية.",
    ),
    "merge_offline": (
        "Comparing needs the server, to fetch the other version: connect to the internet and"
        " try again.",
        "La comparaison a besoin du serveur pour obtenir l'autre version : connectez-vous à"
        " internet et réessayez.",
        "Para comparar hace falta el servidor, que tiene la otra versión: conéctese a internet"
        " e inténtelo de nuevo.",
        "تحتاج المقارنة إلى الخادم لجلب النسخة الأخرى: اتصل بالإنترنت وحاول مرة أخرى.",
    ),
    "merge_unavailable": (
        "The server did not give the other version of this record. Try again after the next"
        " sync, or let the office decide.",
        "Le serveur n'a pas fourni l'autre version de cette fiche. Réessayez après la"
        " prochaine synchronisation, ou laissez le bureau décider.",
        "El servidor no dio la otra versión de este registro. Inténtelo de nuevo después de la"
        " próxima sincronización, o deje que decida la oficina.",
        "لم يقدّم الخادم النسخة الأخرى من هذا السجل. حاول مجددًا بعد المزامنة التالية، أو دع"
        " المكتب يقرر.",
    ),
    "merge_nothing": (
        "The server no longer holds another version to merge with: sync to bring this record"
        " up to date.",
        "Le serveur n'a plus d'autre version à fusionner : synchronisez pour mettre cette"
        " fiche à jour.",
        "El servidor ya no tiene otra versión que combinar: sincronice para actualizar este"
        " registro.",
        "لم يعد لدى الخادم نسخة أخرى للدمج: زامن لتحديث هذا السجل.",
    ),
    "left_for_office": (
        "Both versions are kept. A coordinator will choose at the office.",
        "Les deux versions sont gardées. Un coordinateur choisira au bureau.",
        "Se conservan ambas versiones. Un coordinador elegirá en la oficina.",
        "حُفظت النسختان. سيختار منسّق في المكتب.",
    ),
    "wipe_yes": ("Yes, erase this device", "Oui, effacer", "Sí, borrar", "نعم، امسح الجهاز"),
    # consent withdrawn (security check 19)
    "withdraw_consent": (
        "Withdraw consent and erase",
        "Retirer le consentement et effacer",
        "Retirar el consentimiento y borrar",
        "سحب الموافقة والمسح",
    ),
    "withdraw_title": (
        "Withdraw consent and erase?",
        "Retirer le consentement et effacer ?",
        "¿Retirar el consentimiento y borrar?",
        "سحب الموافقة والمسح؟",
    ),
    "withdraw_confirm": (
        "The person's name, date of birth, places, notes and every other personal answer in"
        " this record are erased from this device now, and from the server, with every"
        " earlier version, at the next sync. Only the anonymous statistics stay, for counts."
        " This cannot be undone.",
        "Le nom de la personne, sa date de naissance, les lieux, les notes et toutes les"
        " autres réponses personnelles de cette fiche sont effacés de cet appareil"
        " maintenant, et du serveur, avec toutes les versions antérieures, à la prochaine"
        " synchronisation. Seules les statistiques anonymes restent, pour les décomptes."
        " C'est irréversible.",
        "El nombre de la persona, su fecha de nacimiento, los lugares, las notas y todas las"
        " demás respuestas personales de este registro se borran ahora de este dispositivo,"
        " y del servidor, con todas las versiones anteriores, en la próxima sincronización."
        " Solo quedan las estadísticas anónimas, para los recuentos. No se puede deshacer.",
        "يُمسح الآن من هذا الجهاز اسم الشخص وتاريخ ميلاده والأماكن والملاحظات وكل إجابة"
        " شخصية أخرى في هذا السجل، ويُمسح من الخادم مع كل النسخ السابقة في المزامنة التالية."
        " لا تبقى إلا الإحصاءات المجهولة الهوية لأغراض العدّ. لا يمكن التراجع عن ذلك.",
    ),
    "withdraw_yes": ("Withdraw and erase", "Retirer et effacer", "Retirar y borrar", "اسحب وامسح"),
    "consent_withdrawn_done": (
        "Consent withdrawn: the personal details were erased from this device. If the record"
        " was sent, the server erases its copies at the next sync.",
        "Consentement retiré : les données personnelles ont été effacées de cet appareil. Si"
        " la fiche a été envoyée, le serveur efface ses copies à la prochaine synchronisation.",
        "Consentimiento retirado: los datos personales se borraron de este dispositivo. Si el"
        " registro se envió, el servidor borra sus copias en la próxima sincronización.",
        "سُحبت الموافقة: مُسحت البيانات الشخصية من هذا الجهاز. إن كان السجل قد أُرسل، يمسح"
        " الخادم نسخه في المزامنة التالية.",
    ),
    "withdrawn_marker": (
        "Consent withdrawn, details erased",
        "Consentement retiré, données effacées",
        "Consentimiento retirado, datos borrados",
        "سُحبت الموافقة ومُسحت البيانات",
    ),
    "withdrawn_note": (
        "Consent was withdrawn: this record's personal details were erased. Only anonymous"
        " statistics are kept.",
        "Le consentement a été retiré : les données personnelles de cette fiche ont été"
        " effacées. Seules les statistiques anonymes sont conservées.",
        "Se retiró el consentimiento: los datos personales de este registro se borraron. Solo"
        " se conservan las estadísticas anónimas.",
        "سُحبت الموافقة: مُسحت البيانات الشخصية لهذا السجل. لا تُحفظ إلا الإحصاءات المجهولة الهوية.",
    ),
}

_ORDER = ("en", "fr", "es", "ar")


def t(key: str, lang: str, **params: object) -> str:
    """The app text `key` in `lang` (English when `lang` is not one of ours), filled in."""
    texts = _TEXTS[key]
    index = _ORDER.index(lang) if lang in _ORDER else 0
    text = texts[index] or texts[0]
    return text.format(**params) if params else text


def is_rtl(lang: str) -> bool:
    return lang in RTL_LANGUAGES
