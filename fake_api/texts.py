"""Multilingual dialogue snippets the synthetic records are assembled from.

The snippets cover the text variety a conversations connector has to survive: several languages and
scripts, non-ASCII characters, emoji, right-to-left text (Arabic, Hebrew) and a few CRLF line breaks.
English translations go with every non-English line, as PolyAI's ``translated_user_input`` and
``english_agent_response`` fields carry them.
"""

from __future__ import annotations

from dataclasses import dataclass

Entity = dict[str, "str | list[str]"]


@dataclass(frozen=True)
class Exchange:
    """One user line and the agent's reply, with English versions (None when already English)."""

    user: str
    agent: str
    user_en: str | None = None
    agent_en: str | None = None
    intent: str | None = None
    entities: tuple[Entity, ...] = ()
    out_of_domain: bool = False


@dataclass(frozen=True)
class Language:
    """Everything needed to write a conversation in one language."""

    code: str
    chat: bool
    phone_prefix: str
    greeting: tuple[str, str | None]
    reprompt: tuple[str, str | None]
    closing: tuple[str, str | None]
    exchanges: tuple[Exchange, ...]


LANGUAGES: tuple[Language, ...] = (
    Language(
        code="en-GB",
        chat=False,
        phone_prefix="+44",
        greeting=("Hello, you're through to Bella Vista. I'm the virtual assistant — how can I help you today?", None),
        reprompt=("Sorry, I didn't catch that. Are you still there?", None),
        closing=("Thanks for calling Bella Vista, have a lovely day!", None),
        exchanges=(
            Exchange(
                "I'd like to book a table for four on Friday evening",
                "Of course! What time would you like the table for on Friday?",
                intent="book_table",
                entities=({"party_size": "4"}, {"date": "friday"}),
            ),
            Exchange(
                "Around half seven if possible",
                "I have 7:30pm available for four people. Shall I confirm that?",
                intent="provide_time",
                entities=({"time": "19:30"},),
            ),
            Exchange(
                "Yes please, that's perfect",
                "Great, you're booked in!\r\nFriday, 7:30pm — table for 4.\r\nYou'll get a text confirmation shortly.",
                intent="confirm",
            ),
            Exchange(
                "Can I change the delivery address on my order?",
                "I can help with that. Could you read me the new postcode, please?",
                intent="change_address",
            ),
            Exchange(
                "It's SW1A 1AA",
                "Thanks. I've updated the delivery address to SW1A 1AA.",
                intent="provide_postcode",
                entities=({"postcode": "SW1A 1AA"},),
            ),
            Exchange(
                "Do you have gluten-free options?",
                "Yes — most of our pasta dishes can be made gluten-free, just let your server know.",
                intent="faq_dietary",
                entities=({"diet": ["gluten-free", "coeliac"]},),
            ),
            Exchange(
                "Can I speak to a real person please?",
                "No problem, I'll transfer you to a member of the team now.",
                intent="request_human",
            ),
            Exchange(
                "What's the weather going to be like at the weekend?",
                "I'm afraid I can't help with that, but I can help with bookings, orders and opening times.",
                intent=None,
                out_of_domain=True,
            ),
        ),
    ),
    Language(
        code="en-US",
        chat=True,
        phone_prefix="+1",
        greeting=("Hi there 👋 I'm Bella, the Bella Vista assistant. What can I do for you?", None),
        reprompt=("Still there? 😊 Just type your question whenever you're ready.", None),
        closing=("Bye for now! 👋🍝", None),
        exchanges=(
            Exchange(
                "do u deliver to 94107?? 🍕",
                "We sure do! 🚚 Delivery to 94107 usually takes 30–45 minutes.",
                intent="delivery_area",
                entities=({"zip_code": "94107"},),
            ),
            Exchange(
                "can i get a refund for order #A-1029",
                "I'm sorry to hear that 😔 I've raised a refund request for order A-1029.\r\n"
                "You'll get an email within 24h.",
                intent="refund",
                entities=({"order_id": "A-1029"},),
            ),
            Exchange(
                "whats the wifi password lol",
                "Sorry, I can't help with that one 🙈 Ask a member of staff when you're in!",
                out_of_domain=True,
            ),
            Exchange(
                "are u open on thanksgiving",
                "We're open 12–8pm on Thanksgiving Day 🦃 Booking ahead is recommended!",
                intent="opening_hours",
                entities=({"date": "thanksgiving"},),
            ),
            Exchange(
                "thx!! ❤️",
                "You're welcome! Enjoy your meal 😋",
                intent="thanks",
            ),
            Exchange(
                "can you add extra cheese & jalapeños to my pizza?",
                "Done ✅ Extra cheese and jalapeños added — that's +$2.50.",
                intent="modify_order",
                entities=({"toppings": ["extra cheese", "jalapeños"]},),
            ),
        ),
    ),
    Language(
        code="es-ES",
        chat=False,
        phone_prefix="+34",
        greeting=(
            "Hola, ha llamado a Bella Vista. Soy el asistente virtual, ¿en qué puedo ayudarle?",
            "Hello, you've called Bella Vista. I'm the virtual assistant, how can I help you?",
        ),
        reprompt=("Perdone, no le he oído. ¿Sigue ahí?", "Sorry, I didn't hear you. Are you still there?"),
        closing=("Gracias por llamar, ¡que tenga un buen día!", "Thanks for calling, have a good day!"),
        exchanges=(
            Exchange(
                "Quisiera reservar una mesa para cuatro el viernes por la noche",
                "Por supuesto. ¿A qué hora le gustaría la mesa el viernes?",
                "I'd like to book a table for four on Friday night",
                "Of course. What time would you like the table on Friday?",
                intent="book_table",
                entities=({"party_size": "4"}, {"date": "viernes"}),
            ),
            Exchange(
                "Sobre las ocho y media, por favor",
                "Tengo disponible a las 20:30 para cuatro personas. ¿Se lo confirmo?",
                "Around half past eight, please",
                "I have 8:30pm available for four people. Shall I confirm it?",
                intent="provide_time",
                entities=({"time": "20:30"},),
            ),
            Exchange(
                "Sí, perfecto, ¡muchas gracias!",
                "¡Listo! Recibirá un SMS de confirmación en unos minutos.",
                "Yes, perfect, thank you very much!",
                "Done! You'll receive a confirmation text in a few minutes.",
                intent="confirm",
            ),
            Exchange(
                "¿Puedo cambiar la dirección de entrega?",
                "Claro. ¿Me dice el nuevo código postal, por favor?",
                "Can I change the delivery address?",
                "Of course. Could you tell me the new postcode, please?",
                intent="change_address",
            ),
            Exchange(
                "¿Tienen menú para celíacos?",
                "Sí, casi todos nuestros platos de pasta se pueden preparar sin gluten.",
                "Do you have a menu for coeliacs?",
                "Yes, almost all of our pasta dishes can be made gluten-free.",
                intent="faq_dietary",
                entities=({"diet": "sin gluten"},),
            ),
            Exchange(
                "Quiero hablar con una persona",
                "De acuerdo, le paso con un compañero ahora mismo.",
                "I want to speak to a person",
                "Okay, I'll put you through to a colleague right now.",
                intent="request_human",
            ),
        ),
    ),
    Language(
        code="fr-FR",
        chat=False,
        phone_prefix="+33",
        greeting=(
            "Bonjour, vous êtes bien chez Bella Vista. Je suis l'assistant virtuel, comment puis-je vous aider ?",
            "Hello, this is Bella Vista. I'm the virtual assistant, how can I help you?",
        ),
        reprompt=(
            "Excusez-moi, je ne vous ai pas entendu. Êtes-vous toujours là ?",
            "Sorry, I didn't hear you. Are you still there?",
        ),
        closing=("Merci de votre appel, bonne journée !", "Thank you for calling, have a good day!"),
        exchanges=(
            Exchange(
                "Je voudrais réserver une table pour deux samedi midi",
                "Très bien. À quelle heure souhaitez-vous arriver samedi ?",
                "I'd like to book a table for two on Saturday lunchtime",
                "Very good. What time would you like to arrive on Saturday?",
                intent="book_table",
                entities=({"party_size": "2"}, {"date": "samedi"}),
            ),
            Exchange(
                "Vers midi et quart",
                "J'ai une table à 12h15 pour deux personnes. Je confirme ?",
                "Around quarter past twelve",
                "I have a table at 12:15 for two people. Shall I confirm?",
                intent="provide_time",
                entities=({"time": "12:15"},),
            ),
            Exchange(
                "Oui, c'est parfait, merci beaucoup",
                "C'est noté ! Vous recevrez un SMS de confirmation.\r\nÀ samedi !",
                "Yes, that's perfect, thank you very much",
                "All noted! You'll receive a confirmation text.\r\nSee you on Saturday!",
                intent="confirm",
            ),
            Exchange(
                "Est-ce que vous avez des plats végétariens ?",
                "Oui, nous proposons plusieurs plats végétariens, dont un risotto aux cèpes.",
                "Do you have vegetarian dishes?",
                "Yes, we offer several vegetarian dishes, including a porcini risotto.",
                intent="faq_dietary",
                entities=({"diet": ["végétarien"]},),
            ),
            Exchange(
                "Je veux parler à un conseiller",
                "Je vous mets en relation avec un conseiller, ne quittez pas.",
                "I want to speak to an adviser",
                "I'm putting you through to an adviser, please hold.",
                intent="request_human",
            ),
        ),
    ),
    Language(
        code="de-DE",
        chat=False,
        phone_prefix="+49",
        greeting=(
            "Guten Tag, hier ist Bella Vista. Ich bin der digitale Assistent – wie kann ich Ihnen helfen?",
            "Good afternoon, this is Bella Vista. I'm the digital assistant – how can I help you?",
        ),
        reprompt=(
            "Entschuldigung, ich habe Sie nicht verstanden. Sind Sie noch da?",
            "Sorry, I didn't understand you. Are you still there?",
        ),
        closing=(
            "Vielen Dank für Ihren Anruf und einen schönen Tag noch!",
            "Thank you for your call and have a nice day!",
        ),
        exchanges=(
            Exchange(
                "Ich möchte meine Bestellung stornieren",
                "Das kann ich gerne für Sie erledigen. Wie lautet Ihre Bestellnummer?",
                "I'd like to cancel my order",
                "I can do that for you. What is your order number?",
                intent="cancel_order",
            ),
            Exchange(
                "Die Nummer ist vier sieben eins neun",
                "Danke. Die Bestellung 4719 wurde storniert. Die Rückerstattung dauert 3–5 Werktage.",
                "The number is four seven one nine",
                "Thanks. Order 4719 has been cancelled. The refund takes 3–5 working days.",
                intent="provide_order_number",
                entities=({"order_id": "4719"},),
            ),
            Exchange(
                "Wann öffnet das Restaurant am Sonntag?",
                "Sonntags haben wir von 12 bis 22 Uhr geöffnet.",
                "When does the restaurant open on Sunday?",
                "On Sundays we are open from 12 to 10pm.",
                intent="opening_hours",
                entities=({"date": "Sonntag"},),
            ),
            Exchange(
                "Gibt es Parkplätze in der Nähe?",
                "Ja, direkt gegenüber gibt es ein Parkhaus – die ersten zwei Stunden sind für Gäste kostenlos.",
                "Is there parking nearby?",
                "Yes, there's a multi-storey car park right opposite – the first two hours are free for guests.",
                intent="faq_parking",
            ),
            Exchange(
                "Ich möchte mit einem Mitarbeiter sprechen",
                "Einen Moment bitte, ich verbinde Sie mit einem Kollegen.",
                "I'd like to speak to a member of staff",
                "One moment please, I'll connect you with a colleague.",
                intent="request_human",
            ),
        ),
    ),
    Language(
        code="ja-JP",
        chat=False,
        phone_prefix="+81",
        greeting=(
            "お電話ありがとうございます。ベラヴィスタのバーチャルアシスタントです。ご用件をお伺いします。",
            "Thank you for calling. This is Bella Vista's virtual assistant. How may I help you?",
        ),
        reprompt=(
            "申し訳ございません、聞き取れませんでした。もう一度お願いできますか？",
            "I'm sorry, I couldn't hear that. Could you say it again?",
        ),
        closing=("お電話ありがとうございました。", "Thank you for calling."),
        exchanges=(
            Exchange(
                "明日の夜7時に3名で予約したいです",
                "かしこまりました。明日19時、3名様でお席をお取りします。お名前を教えていただけますか？",
                "I'd like to book for 3 people at 7pm tomorrow",
                "Certainly. I'll reserve a table for 3 at 7pm tomorrow. May I have your name?",
                intent="book_table",
                entities=({"party_size": "3"}, {"time": "19:00"}),
            ),
            Exchange(
                "田中です",
                "田中様、ご予約を承りました。確認のSMSをお送りします。",
                "It's Tanaka",
                "Thank you, Tanaka-sama, your reservation is confirmed. We'll send a confirmation text.",
                intent="provide_name",
                entities=({"name": "田中"},),
            ),
            Exchange(
                "駐車場はありますか？",
                "はい、店舗の裏に5台分の無料駐車場がございます。",
                "Is there a car park?",
                "Yes, there is free parking for 5 cars behind the restaurant.",
                intent="faq_parking",
            ),
            Exchange(
                "担当者と話したいです",
                "承知しました。担当者におつなぎしますので、少々お待ちください。",
                "I'd like to talk to someone in charge",
                "Understood. I'll put you through, please wait a moment.",
                intent="request_human",
            ),
        ),
    ),
    Language(
        code="ar-SA",
        chat=False,
        phone_prefix="+966",
        greeting=(
            "مرحباً بك في بيلا فيستا. أنا المساعد الافتراضي، كيف يمكنني مساعدتك اليوم؟",
            "Welcome to Bella Vista. I'm the virtual assistant, how can I help you today?",
        ),
        reprompt=("عذراً، لم أسمعك. هل ما زلت معي؟", "Sorry, I didn't hear you. Are you still with me?"),
        closing=("شكراً لاتصالك، يومك سعيد!", "Thanks for calling, have a nice day!"),
        exchanges=(
            Exchange(
                "أريد حجز طاولة لشخصين مساء الخميس",
                "بكل سرور. في أي ساعة تفضل الحجز يوم الخميس؟",
                "I want to book a table for two on Thursday evening",
                "With pleasure. What time would you prefer on Thursday?",
                intent="book_table",
                entities=({"party_size": "2"}, {"date": "الخميس"}),
            ),
            Exchange(
                "الساعة التاسعة مساءً",
                "تم تأكيد حجزك لشخصين الساعة 9:00 مساءً. شكراً لك!",
                "At nine in the evening",
                "Your booking for two at 9:00pm is confirmed. Thank you!",
                intent="provide_time",
                entities=({"time": "21:00"},),
            ),
            Exchange(
                "هل لديكم خيارات نباتية؟",
                "نعم، لدينا عدة أطباق نباتية في القائمة.",
                "Do you have vegetarian options?",
                "Yes, we have several vegetarian dishes on the menu.",
                intent="faq_dietary",
            ),
            Exchange(
                "أريد التحدث مع موظف",
                "حسناً، سأحولك إلى أحد الزملاء الآن.",
                "I want to speak with an employee",
                "Okay, I'll transfer you to a colleague now.",
                intent="request_human",
            ),
        ),
    ),
    Language(
        code="he-IL",
        chat=False,
        phone_prefix="+972",
        greeting=(
            "שלום, הגעתם לבלה ויסטה. אני העוזר הווירטואלי, איך אפשר לעזור?",
            "Hello, you've reached Bella Vista. I'm the virtual assistant, how can I help?",
        ),
        reprompt=("סליחה, לא שמעתי. אתם עדיין על הקו?", "Sorry, I didn't hear. Are you still on the line?"),
        closing=("תודה שהתקשרתם, יום טוב!", "Thanks for calling, have a good day!"),
        exchanges=(
            Exchange(
                "אני רוצה להזמין שולחן לשלושה ביום ראשון",
                "בשמחה. לאיזו שעה להזמין ביום ראשון?",
                "I want to book a table for three on Sunday",
                "Gladly. What time should I book on Sunday?",
                intent="book_table",
                entities=({"party_size": "3"}, {"date": "יום ראשון"}),
            ),
            Exchange(
                "בשמונה בערב",
                "ההזמנה לשלושה בשעה 20:00 אושרה. תודה!",
                "At eight in the evening",
                "The booking for three at 8pm is confirmed. Thanks!",
                intent="provide_time",
                entities=({"time": "20:00"},),
            ),
            Exchange(
                "איפה אפשר לחנות?",
                "יש חניון ציבורי ממש ליד המסעדה.",
                "Where can I park?",
                "There's a public car park right next to the restaurant.",
                intent="faq_parking",
            ),
            Exchange(
                "אני רוצה לדבר עם נציג",
                "אין בעיה, אני מעביר אותך לנציג עכשיו.",
                "I want to talk to a representative",
                "No problem, I'm transferring you to a representative now.",
                intent="request_human",
            ),
        ),
    ),
)

HANDOFF_REASONS: tuple[str, ...] = ("USER_REQUESTED_AGENT", "OUT_OF_SCOPE", "PAYMENT_REQUIRED", "AUTH_FAILED")
HANDOFF_DESTINATIONS: tuple[str, ...] = ("+441632960000", "sip:frontdesk@bellavista.example", "queue:billing")
DTMF_INPUTS: tuple[str, ...] = ("1", "2", "9", "0#", "4719#", "*")
