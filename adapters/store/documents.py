"""The recorded documents of a store (events.documents), read and appended without the engine.

For the parts that govern documents but decide nothing: the HTTP API (list,
show, approve), status (which years the active calendar covers). A step is
saved alone, on its stream; the store's key on (stream, version) refuses a
second writer that read the same version.
"""

from __future__ import annotations

from eventsourcing.persistence import IntegrityError, StoredEvent

from adapters.store.readers import StoreRecorder
from engine.documents import DocumentBook


class StaleBook(RuntimeError):
    """Another step was saved on the stream since the book was read: read it again."""


class RecordedDocuments:
    def __init__(self, recorder: StoreRecorder) -> None:
        self.recorder = recorder

    def book(self, kind: str) -> DocumentBook:
        book = DocumentBook(kind)
        for state in self.recorder.select_streams([book.stream]).get(book.stream, ()):
            book.replay(state)
        return book

    def save(self, book: DocumentBook) -> None:
        try:
            self.recorder.insert_events([StoredEvent(*row) for row in book.collect()])
        except IntegrityError as error:
            raise StaleBook(str(error)) from error

    def close(self) -> None:
        self.recorder.close()
