"""Labelled example renders over the arousal-valence plane (``attune render-examples``).

:func:`render_examples` renders a 3 x 3 grid (calm / moderate / aroused x negative /
neutral / positive): each cell holds the music that
:func:`attune.synthesis.params.params_for` gives for that state, composed with a fixed
seed and rendered offline through the same pyo graph as a session (each in its own
process, three at a time), with a MIDI file of the same notes. :func:`write_html`
writes one self-contained page (``index.html``, images embedded) with each example's
spectrogram, piano roll, parameters and a player linked to its WAV, so anyone can
listen and look. matplotlib is imported only when the page is written.
"""

from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from attune.synthesis.composer import Composer, NoteEvent
from attune.synthesis.instruments import DEFAULT_PALETTE, PALETTES, palette
from attune.synthesis.midi import MidiRecorder
from attune.synthesis.params import MusicParams, params_for
from attune.synthesis.synth import OfflineRenderer

#: Arousal levels of the grid's rows and valence levels of its columns, with labels.
AROUSAL_LEVELS: dict[str, float] = {"calm": -0.8, "moderate": 0.0, "aroused": 0.8}
VALENCE_LEVELS: dict[str, float] = {"negative": -0.8, "neutral": 0.0, "positive": 0.8}
#: ``name: (arousal, valence)`` of each example, row by row (calm first).
GRID: dict[str, tuple[float, float]] = {
    f"{an}_{vn}": (a, v) for an, a in AROUSAL_LEVELS.items() for vn, v in VALENCE_LEVELS.items()
}
#: Colours of the voices in the piano roll.
_VOICE_COLOURS = {"bass": "#1f4e79", "pad": "#7fb3d5", "arp": "#e67e22", "melody": "#c0392b"}


@dataclass(frozen=True)
class Example:
    """One rendered example.

    Attributes
    ----------
    name : str
        Cell name, e.g. ``"calm_positive"``.
    arousal, valence : float
        The expressed state.
    params : MusicParams
        Parameters played (after the fade-in).
    wav, midi : Path
        Files written.
    notes : list of NoteEvent
        The notes played (the same as in ``midi``).
    """

    name: str
    arousal: float
    valence: float
    params: MusicParams
    wav: Path
    midi: Path
    notes: list[NoteEvent] = field(default_factory=list, repr=False, compare=False)


def render_examples(
    out_dir: Path | str,
    *,
    duration_s: float = 20.0,
    seed: int = 1,
    tick_s: float = 0.25,
    breathing_hz: float = 0.0,
    palette_name: str = DEFAULT_PALETTE,
    html_page: bool = True,
    jobs: int = 3,
) -> list[Example]:
    """Render one WAV and ``.mid`` per cell of the 3 x 3 arousal-valence grid.

    Parameters
    ----------
    out_dir : Path or str
        Directory to write into (created if missing).
    duration_s : float, default 20.0
        Length of each example in seconds (1 s fade-in, 1.5 s fade-out).
    seed : int, default 1
        Composer seed (the same for every cell, so the cells differ only by the state).
    tick_s : float, default 0.25
        Control tick in seconds.
    breathing_hz : float, default 0.0
        Resonance-breathing swell rate (0 = off).
    palette_name : str, default "piano"
        Instrument palette (:data:`attune.synthesis.instruments.PALETTES`).
    html_page : bool, default True
        Also write ``index.html`` (:func:`write_html`).
    jobs : int, default 3
        Renders running at a time (one child process each).

    Returns
    -------
    list of Example
        In :data:`GRID` order.

    Raises
    ------
    ValueError
        For a duration under 4 s or an unknown palette (one line).
    """
    if duration_s < 4.0:
        raise ValueError(f"duration_s must be at least 4 s, got {duration_s!r}")
    palette(palette_name)  # raises ValueError naming the palettes
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    n_ticks = int(round(duration_s / tick_s))
    done: list[Example] = []
    names = list(GRID)
    for k0 in range(0, len(names), max(1, int(jobs))):
        batch = names[k0 : k0 + max(1, int(jobs))]
        runs = []
        for name in batch:
            a, v = GRID[name]
            p = params_for(a, v).with_(fade=1.0)
            synth = OfflineRenderer(
                out / f"{name}.wav", breathing_hz=breathing_hz, palette=palette_name
            )
            synth.start()
            runs.append(
                (
                    name,
                    p,
                    synth,
                    Composer(seed=seed, breathing_hz=breathing_hz),
                    MidiRecorder(palette=palette_name),
                )
            )
        for k in range(1, n_ticks + 1):  # feed the batch in lockstep: children run in parallel
            t = k * tick_s
            fade = 0.0 if t > duration_s - 1.5 else 1.0
            for _, p, synth, comp, rec in runs:
                pk = p.with_(fade=fade)
                notes = comp.advance(pk, t)
                synth.send(t, pk, notes)
                rec.send(t, pk, notes)
        for name, p, synth, comp, rec in runs:
            synth.close()
            midi = out / f"{name}.mid"
            rec.write(midi, comp.beats)
            a, v = GRID[name]
            done.append(Example(name, a, v, p, out / f"{name}.wav", midi, list(rec.notes)))
    if html_page:
        write_html(out / "index.html", done, palette_name=palette_name)
    return done


def _png(fig: object) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80)  # type: ignore[attr-defined]
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _figure(ex: Example) -> str:
    """Spectrogram (top) and piano roll (bottom) of one example as a base64 PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from scipy.signal import spectrogram

    from attune.synthesis.analysis import read_wav

    x, sr = read_wav(ex.wav)
    f, t, sxx = spectrogram(x.mean(axis=0), fs=sr, nperseg=2048, noverlap=1024)
    keep = f <= 8000.0
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(6.4, 4.8), sharex=True)
    ax1.pcolormesh(t, f[keep], 10 * np.log10(sxx[keep] + 1e-12), shading="auto", cmap="magma")
    ax1.set_yscale("symlog", linthresh=200.0)
    ax1.set_ylabel("Hz")
    ax1.set_title(f"{ex.name}: spectrogram and piano roll")
    for n in ex.notes:
        ax2.broken_barh(
            [(n.t_s, n.dur_s)], (n.pitch - 0.4, 0.8), color=_VOICE_COLOURS.get(n.voice, "k")
        )
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=c, lw=4, label=v) for v, c in _VOICE_COLOURS.items()]
    ax2.legend(handles=handles, loc="upper right", fontsize=7, ncol=4)
    ax2.set_ylabel("MIDI pitch")
    ax2.set_xlabel("time (s)")
    fig.tight_layout()
    png = _png(fig)
    plt.close(fig)
    return png


def write_html(path: Path | str, examples: list[Example], *, palette_name: str) -> Path:
    """Write one self-contained HTML page showing every example.

    Parameters
    ----------
    path : Path or str
        Output ``.html`` file (its folder holds the WAV and MIDI files it links to).
    examples : list of Example
        Rendered examples (:func:`render_examples`).
    palette_name : str
        Palette the examples were played with (named on the page).

    Returns
    -------
    Path
        The page written.
    """
    path = Path(path)
    insts = ", ".join(f"{v}: {i.name}" for v, i in PALETTES[palette_name].items())
    cells = []
    for ex in examples:
        p = ex.params
        caption = (
            f"arousal {ex.arousal:+.1f}, valence {ex.valence:+.1f}: {p.tempo_bpm:.0f} BPM, "
            f"{p.mode_name}, tension {p.tension:.2f}, brightness {p.brightness:.2f}, "
            f"density {p.density:.2f}, register {p.register_st:+.0f} st, "
            f"{p.loudness_db:.0f} LUFS"
        )
        cells.append(
            f'<figure><img alt="{html.escape(ex.name)}" src="data:image/png;base64,'
            f'{_figure(ex)}"><figcaption><b>{html.escape(ex.name)}</b> - '
            f"{html.escape(caption)}<br><audio controls preload=none "
            f'src="{html.escape(ex.wav.name)}"></audio> <a href="{html.escape(ex.midi.name)}">'
            f"MIDI</a></figcaption></figure>"
        )
    page = (
        "<!doctype html><html><head><meta charset=utf-8><title>Attune examples</title>"
        "<style>body{font-family:sans-serif;margin:1em}main{display:grid;"
        "grid-template-columns:repeat(3,1fr);gap:1em}img{width:100%}"
        "figure{margin:0}figcaption{font-size:0.8em}</style></head><body>"
        "<h1>Attune: music across the arousal-valence plane</h1>"
        f"<p>Rows: calm, moderate, aroused. Columns: negative, neutral, positive valence. "
        f"Palette <b>{html.escape(palette_name)}</b> ({html.escape(insts)}). Arousal moves "
        "tempo, density, loudness, register and attack; valence moves mode, consonance and "
        "brightness (docs/music.md).</p><main>" + "".join(cells) + "</main></body></html>"
    )
    path.write_text(page, encoding="utf-8")
    return path
