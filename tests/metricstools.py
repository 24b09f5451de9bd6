"""Reading what /metrics serves, as Prometheus would: the text parsed by prometheus-client's own
parser into samples, looked up by name and labels."""
from __future__ import annotations

import urllib.request
from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families


@dataclass(frozen=True)
class Samples:
    values: dict[tuple[str, frozenset], float]

    @classmethod
    def parse(cls, text: str) -> "Samples":
        return cls({(s.name, frozenset(s.labels.items())): s.value
                    for family in text_string_to_metric_families(text) for s in family.samples})

    def get(self, name: str, **labels: str) -> float | None:
        """The sample with exactly these labels; None when there is none."""
        return self.values.get((name, frozenset(labels.items())))

    def total(self, name: str, **labels: str) -> float:
        """The sum over the samples of `name` that carry these labels (whatever their others)."""
        wanted = set(labels.items())
        return sum(v for (n, lbls), v in self.values.items() if n == name and wanted <= lbls)

    def names(self) -> set[str]:
        return {name for name, _ in self.values}


def scrape(port: int, path: str = "/metrics") -> Samples:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30) as answer:
        assert answer.status == 200
        assert answer.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        return Samples.parse(answer.read().decode())
