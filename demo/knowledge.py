"""Loading the demo knowledge base: FAQs, a few documents (made here), the support contacts.

Loading is idempotent: a FAQ or contact whose title or name the core log holds already is left
alone.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from dataclasses import dataclass
from uuid import UUID

from application.authz import Principal
from application.knowledge.contacts import SupportContactService
from application.knowledge.faqs import KnowledgeService
from demo.knowledge_faqs import ALL_FAQS
from demo.ledger import DemoLedger


@dataclass(frozen=True)
class DemoContact:
    key: str
    name: str
    title: str
    phone: str
    email: str
    hours: str
    notes: str


DEMO_CONTACTS = [
    DemoContact(
        "duty-desk",
        "客服中心 7×24 值班台 Duty desk",
        "一线故障受理 First-line duty",
        "020-0000-1390 转 1",
        "duty@support.example.com",
        "7×24",
        "大面积收发信失败、登录异常等紧急故障请先致电，再提交工单。",
    ),
    DemoContact(
        "second-line",
        "二线技术支持 Second-line support",
        "彩讯客服 Vendor support",
        "020-0000-1390 转 2",
        "l2@support.example.com",
        "工作日 09:00–18:00",
        "工单答复时限按优先级计算：紧急 2 小时，高 8 小时，普通 24 小时。",
    ),
    DemoContact(
        "escalation",
        "投诉升级经理 Escalation manager",
        "客服经理 Service manager",
        "020-0000-1391",
        "escalation@support.example.com",
        "工作日 09:00–18:00",
        "用户投诉超过 48 小时仍未解决时联系。",
    ),
    DemoContact(
        "sms-gateway",
        "短信通道 10658139 值班 SMS gateway",
        "短信平台运维 SMS operations",
        "020-0000-1392",
        "sms-gateway@support.example.com",
        "7×24",
        "到达通知、登录提醒短信大面积延迟或失败时联系。",
    ),
    DemoContact(
        "boss-sync",
        "BOSS 同步与账单 Billing sync",
        "计费接口组 Billing interface team",
        "020-0000-1393",
        "boss-sync@support.example.com",
        "工作日 09:00–18:00",
        "套餐变更、话费账单投递在 BOSS 与邮箱平台之间同步失败时联系。",
    ),
]


# ---------------------------------------------------------------------- demo documents
def _pdf(lines: list[str]) -> bytes:
    """A one-page PDF with ASCII text lines (Helvetica), offsets computed for the xref."""
    text = " ".join(
        "(" + line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ") '"
        for line in lines
    )
    content = f"BT /F1 14 Tf 72 780 Td 20 TL {text} ET".encode("ascii")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(content)).encode() + b" >>\nstream\n" + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    )
    return bytes(out)


def _png(width: int = 160, height: int = 48) -> bytes:
    """A small striped PNG (an 'arrival notification' banner in the demo's colours)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    rows = bytearray()
    for y in range(height):
        rows.append(0)
        for x in range(width):
            stripe = (x // 16 + y // 16) % 2
            rows += bytes((0, 102, 204) if stripe else (230, 240, 250))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(bytes(rows)))
        + chunk(b"IEND", b"")
    )


def _docx(paragraphs: list[str]) -> bytes:
    """A minimal Word document (OOXML) with the given paragraphs."""
    body = "".join(
        f"<w:p><w:r><w:t>{p.replace('&', '&amp;').replace('<', '&lt;')}</w:t></w:r></w:p>"
        for p in paragraphs
    )
    ns = "http://schemas.openxmlformats.org"
    files = {
        "[Content_Types].xml": (
            f'<?xml version="1.0" encoding="UTF-8"?><Types xmlns="{ns}/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
            'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-'
            'officedocument.wordprocessingml.document.main+xml"/></Types>'
        ),
        "_rels/.rels": (
            f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{ns}/package/2006/'
            f'relationships"><Relationship Id="rId1" Type="{ns}/officeDocument/2006/'
            'relationships/officeDocument" Target="word/document.xml"/></Relationships>'
        ),
        "word/document.xml": (
            f'<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="{ns}/wordprocessingml/'
            f'2006/main"><w:body>{body}</w:body></w:document>'
        ),
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def demo_documents() -> list[tuple[str, str, bytes]]:
    """(FAQ key, file name, content) of the demo's attached documents."""
    pop_guide = (
        "139 邮箱客户端设置说明\n\n"
        "POP3  pop.139.com   110 / SSL 995\n"
        "IMAP  imap.139.com  143 / SSL 993\n"
        "SMTP  smtp.139.com  25 / SSL 465\n\n"
        "使用前请在网页版“设置 → POP/IMAP”中开启服务；用户名为完整邮箱地址。\n"
    )
    return [
        ("pop-outlook", "POP3-IMAP设置说明.txt", pop_guide.encode("utf-8")),
        (
            "blacklist",
            "10658139短信黑名单级别说明.pdf",
            _pdf(
                [
                    "139 Mailbox - SMS blacklist levels for 10658139",
                    "NONE: every SMS is delivered",
                    "NO_MARKETING: no campaign or marketing SMS",
                    "ESSENTIAL_ONLY: arrival notices and security SMS only",
                    "ALL_BLOCKED: no SMS from 10658139 at all",
                ]
            ),
        ),
        ("arrival-set", "到达通知设置截图.png", _png()),
        (
            "bill-subscribe",
            "话费账单投递操作指引.docx",
            _docx(
                [
                    "话费账单投递操作指引",
                    "1. 在 SPOA 代客设置中打开“话费账单投递”。",
                    "2. 确认用户手机号与套餐，提交订阅。",
                    "3. 每月 5 日前后，BOSS 把上月账单投递到用户邮箱。",
                ]
            ),
        ),
    ]


@dataclass(frozen=True)
class DemoKnowledgeResult:
    faqs_created: int
    documents_attached: int
    contacts_created: int


def load_demo_knowledge(
    knowledge: KnowledgeService,
    contacts: SupportContactService,
    author: Principal,
    ledger: DemoLedger,
) -> DemoKnowledgeResult:
    """Create the demo FAQs, documents and contacts that do not exist yet."""
    existing = ledger.created("FaqCreated", "title")
    faq_ids: dict[str, UUID] = {}
    faqs_created = 0
    for key, title, category, keywords, body in ALL_FAQS:
        if title in existing:
            faq_ids[key] = existing[title]
            continue
        created = knowledge.create_faq(
            author, title=title, body=body, category=category, keywords=list(keywords)
        )
        faq_ids[key] = created.faq.id
        faqs_created += 1
    attached = 0
    for key, filename, content in demo_documents():
        faq = knowledge.faq(author, faq_ids[key])
        if faq is None or faq.documents:
            continue
        knowledge.attach_document(author, faq.id, filename, io.BytesIO(content))
        attached += 1
    names = ledger.created("SupportContactAdded", "name")
    contacts_created = 0
    for demo in DEMO_CONTACTS:
        if demo.name in names:
            continue
        contacts.upsert(
            author,
            None,
            name=demo.name,
            title=demo.title,
            phone=demo.phone,
            email=demo.email,
            hours=demo.hours,
            notes=demo.notes,
        )
        contacts_created += 1
    return DemoKnowledgeResult(faqs_created, attached, contacts_created)
