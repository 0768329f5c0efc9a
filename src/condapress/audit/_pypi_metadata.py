"""PyPI's metadata rules on top of core metadata, and whether the long description renders.

warehouse (``warehouse/forklift/metadata.py``) refuses, beyond what :mod:`packaging.metadata`
validates: metadata versions it does not support, local versions, long summaries, unknown or
deprecated classifiers (:mod:`trove_classifiers`, the list PyPI itself uses), URLs that are not
http(s), long or empty project URL labels and direct references in ``Requires-Dist``. It renders
the long description with :mod:`readme_renderer` and refuses one whose markup does not render
(``text/x-rst``, the default); Markdown and plain text always render.
"""

from __future__ import annotations

import io
from email.message import EmailMessage
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from packaging.metadata import Metadata

from condapress.audit._integrity import finding
from condapress.audit._pypi_rules import PYPI_CODES, pypi_rules
from condapress.errors import listing, printable

if TYPE_CHECKING:
    from condapress.model import Finding

__all__ = ["description_findings", "pypi_metadata_findings"]


def pypi_metadata_findings(text: str) -> tuple[Metadata, list[Finding]]:
    """Parse METADATA *text* (valid core metadata) and check it against PyPI's own rules."""
    from trove_classifiers import all_classifiers, deprecated_classifiers  # noqa: PLC0415

    meta = Metadata.from_email(text, validate=True)
    rules = pypi_rules()
    problems = []
    if meta.metadata_version not in rules.metadata_versions:
        problems.append(f"Metadata-Version {meta.metadata_version} is not one PyPI takes")
    if meta.version.local:
        problems.append(f"the version {meta.version} is a local version, which PyPI refuses")
    if meta.summary and len(meta.summary) > rules.max_summary_length:
        problems.append(f"Summary is longer than {rules.max_summary_length} characters")
    classifiers = set(meta.classifiers or ())
    problems += [
        f"{c!r} is not a valid classifier" for c in sorted(classifiers - set(all_classifiers))
    ]
    for classifier in sorted(classifiers & deprecated_classifiers.keys()):
        instead = deprecated_classifiers[classifier]
        use = f", use one of {', '.join(instead)} instead" if instead else ""
        problems.append(f"the classifier {classifier!r} is deprecated{use}")
    problems += _url_problems(meta)
    problems += [
        f"Requires-Dist {str(req)!r} is a direct reference"
        for req in meta.requires_dist or ()
        if req.url is not None
    ]
    if not problems:
        return meta, []
    message = f"PyPI refuses this METADATA: {listing(problems, '; ')}"
    return meta, [finding("pypi-metadata", printable(message), codes=PYPI_CODES)]


def _url_problems(meta: Metadata) -> list[str]:
    rules = pypi_rules()
    problems = []
    for field, url in (("Home-page", meta.home_page), ("Download-URL", meta.download_url)):
        if url is not None and not _is_url(url):
            problems.append(f"{field} {url!r} is not an http(s) URL")
    for label, url in (meta.project_urls or {}).items():
        if not label or len(label) > rules.max_label_length:
            problems.append(
                f"the Project-URL label {label!r} is empty or longer than "
                f"{rules.max_label_length} characters"
            )
        elif not _is_url(url):
            problems.append(f"the Project-URL {label!r} {url!r} is not an http(s) URL")
    return problems


def _is_url(text: str) -> bool:
    # warehouse's is_valid_uri(url, require_authority=False): an http(s) scheme is what counts
    return urlsplit(text).scheme in {"http", "https"}


def description_findings(meta: Metadata) -> list[Finding]:
    """Whether PyPI can render the long description, and what twine's ``--strict`` warns about."""
    findings = []
    description = meta.description
    if not description or not description.strip() or description.rstrip() == "UNKNOWN":
        message = "METADATA has no long description"
        findings.append(finding("description-missing", message, codes=PYPI_CODES))
        return findings
    content_type = meta.description_content_type
    if content_type is None:
        message = "METADATA does not say what markup its long description is in"
        findings.append(finding("description-type-missing", message, codes=PYPI_CODES))
    header = EmailMessage()
    header["content-type"] = content_type or "text/x-rst"
    if header.get_content_type() != "text/x-rst":
        return findings  # Markdown and plain text always render
    import readme_renderer.rst  # noqa: PLC0415 - docutils loads slowly

    warnings = io.StringIO()
    if readme_renderer.rst.render(description, stream=warnings) is None:
        # docutils reports "<string>:LINE: (LEVEL/N) message"
        first = next((line for line in warnings.getvalue().splitlines() if line.strip()), "")
        why = f": {first.removeprefix('<string>:')}" if first else ""
        message = f"the long description does not render as reStructuredText{why}"
        findings.append(finding("pypi-description", printable(message), codes=PYPI_CODES))
    return findings
