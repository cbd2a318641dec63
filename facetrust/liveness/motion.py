"""Video liveness cues: blinks, non-planar face motion and an active head-turn challenge.

All three are measured per face track (faces linked by box overlap, as in
:mod:`facetrust.liveness.video`; the *subject* is the track seen in the most
frames) over a dense frame sequence (every frame, or at least ~15 per second: a
blink lasts 0.1–0.4 s).

* **Blinks** (:func:`detect_blinks`): the eye aspect ratio (EAR) of dlib's 68
  landmarks (Soukupová & Čech, 2016) drops when the eyelids close. A blink is a
  run of samples below :data:`CLOSED_RATIO` x the track's median EAR (the open-eye
  level of *this* person; eyes are open most of the time), of at least
  :data:`MIN_BLINK_SAMPLES` samples, no longer than :data:`MAX_BLINK_SECONDS` and
  with open samples on both sides.
* **Planar motion** (:func:`planar_motion`): a held-up photo or a screen is a plane,
  so between two frames every point of the face moves by one homography. A live
  head is not a plane (the nose moves against the cheeks when it turns) and its
  face deforms. Corner points inside the face box are tracked with pyramidal
  Lucas–Kanade (forward-backward checked), a homography is fitted by least
  squares, and the median distance of the points from it is the *residual*, in
  units of the face-box width. Only frame pairs where the face moved (median
  displacement >= :data:`MIN_MOTION` face widths) count: without motion there is
  nothing to tell a plane from a head.
* **Head-turn challenge** (:func:`judge_turn_challenge`): see :data:`CHALLENGE`.

Yaw (:func:`estimate_yaw`) is the head pose of 6 of the 68 landmarks fitted to a
generic 3-D face (``cv2.solvePnP``, focal length = image width): positive when
the nose points to the image right, which is the subject's **left** in an
un-mirrored camera frame.

The 68-point predictor (``dlib-shape68`` in the zoo) ships in the
``face_recognition_models`` package (found without importing it) and was trained
on iBUG 300-W: non-commercial use only.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Iterable, Sequence

import numpy as np

from facetrust.errors import FaceNotFoundError
from facetrust.io.video import VideoFrame
from facetrust.tracking import FaceTracker

# iBUG 68-point indices. 36-41: the eye on the image left (subject's right), 42-47: the other one.
EYES = (slice(36, 42), slice(42, 48))
CLOSED_RATIO = 0.75
MAX_BLINK_SECONDS = 0.5
MIN_BLINK_SAMPLES = 2  # a single low sample is as likely landmark jitter as a blink
MIN_MOTION = 0.01
MIN_POINTS = 12
# A generic 3-D face (arbitrary units, x right, y down, z away from the camera) for the
# iBUG points nose tip 30, chin 8, outer eye corners 36/45, mouth corners 48/54.
POSE_POINTS = (30, 8, 36, 45, 48, 54)
POSE_MODEL = np.array([(0.0, 0.0, 0.0), (0.0, 330.0, 65.0), (-225.0, -170.0, 135.0), (225.0, -170.0, 135.0),
                       (-150.0, 150.0, 125.0), (150.0, 150.0, 125.0)])

#: The active challenge, as shown to the user and judged by :func:`judge_turn_challenge`.
CHALLENGE = ("Look straight at the camera, turn your head to your LEFT, then to your RIGHT, "
             "then look back at the camera.")
FRONTAL_DEGREES = 15.0  # the sequence must start within this of frontal
TURN_DEGREES = 20.0  # each turn must reach at least this yaw
MAX_CHALLENGE_SECONDS = 10.0
MAX_YAW_SPEED = 400.0  # degrees/s; a faster jump is a cut between pictures, not a head turning
MAX_GAP_SECONDS = 0.5  # the face may not disappear for longer than this during the challenge


@lru_cache(maxsize=1)
def shape_predictor_68() -> Any:
    import dlib

    from facetrust.zoo import model_file

    return dlib.shape_predictor(str(model_file("dlib-shape68")))


def landmarks68(image: np.ndarray, box: Sequence[float]) -> np.ndarray:
    """The 68 iBUG landmarks (68x2, pixels) of the face in ``box`` of an RGB uint8 image."""
    from facetrust.detection.landmarks import dlib_rect

    shape = shape_predictor_68()(image, dlib_rect(tuple(float(v) for v in box)))
    return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)


def eye_aspect_ratio(eye: np.ndarray) -> float:
    """(|p2-p6| + |p3-p5|) / (2 |p1-p4|) of one eye's 6 landmarks p1..p6 (corner, 2 upper, corner, 2 lower)."""
    p = np.asarray(eye, dtype=np.float64)
    width = np.linalg.norm(p[0] - p[3])
    if width == 0:
        raise ValueError("eye corners coincide: not an eye")
    return float((np.linalg.norm(p[1] - p[5]) + np.linalg.norm(p[2] - p[4])) / (2.0 * width))


def face_ear(points: np.ndarray) -> float:
    """Mean EAR of both eyes of 68 landmarks (a blink closes both)."""
    return float(np.mean([eye_aspect_ratio(points[eye]) for eye in EYES]))


def estimate_yaw(points: np.ndarray, image_width: int, image_height: int) -> float:
    """Head yaw in degrees from 68 landmarks: > 0 when the nose points to the image right."""
    import cv2

    focal = float(image_width)
    camera = np.array([[focal, 0, image_width / 2], [0, focal, image_height / 2], [0, 0, 1]])
    image_points = np.ascontiguousarray(points[list(POSE_POINTS)], dtype=np.float64)
    ok, rotation, _ = cv2.solvePnP(POSE_MODEL, image_points, camera, None, flags=cv2.SOLVEPNP_ITERATIVE)
    if not ok:
        raise ValueError("head pose did not converge")
    forward = cv2.Rodrigues(rotation)[0] @ np.array([0.0, 0.0, -1.0])  # the face's forward direction (towards us)
    return float(np.degrees(np.arctan2(forward[0], -forward[2])))


@dataclass(frozen=True)
class Blink:
    start: float  # seconds: first closed sample
    end: float  # seconds: last closed sample
    min_ear: float


def detect_blinks(times: Sequence[float], ears: Sequence[float], closed_ratio: float = CLOSED_RATIO,
                  max_seconds: float = MAX_BLINK_SECONDS, min_samples: int = MIN_BLINK_SAMPLES) -> list[Blink]:
    """Blinks in an EAR series: closed runs (EAR < closed_ratio x median) with open samples on both sides."""
    t = np.asarray(times, dtype=np.float64)
    ear = np.asarray(ears, dtype=np.float64)
    if len(ear) < 3:
        return []
    closed = ear < closed_ratio * np.median(ear)
    blinks = []
    i = 0
    while i < len(ear):
        if not closed[i]:
            i += 1
            continue
        j = i
        while j + 1 < len(ear) and closed[j + 1]:
            j += 1
        # A run touching either end may be longer than we can see; eyes closed for long is not a blink.
        if i > 0 and j < len(ear) - 1 and j - i + 1 >= min_samples and t[j] - t[i] <= max_seconds:
            blinks.append(Blink(float(t[i]), float(t[j]), float(ear[i: j + 1].min())))
        i = j + 1
    return blinks


@dataclass(frozen=True)
class PairMotion:
    time: float  # seconds, of the second frame
    points: int  # tracked points used
    motion: float  # median displacement, in face-box widths
    residual: float  # median distance from the fitted homography, in face-box widths


def pair_motion(previous_gray: np.ndarray, gray: np.ndarray, box: Sequence[float], time: float) -> PairMotion | None:
    """Homography fit of corner points tracked inside ``box`` from one frame to the next; None if too few points."""
    import cv2

    x1, y1, x2, y2 = (float(v) for v in box)
    width = x2 - x1
    # The inner 80 % of the box: the box corners show background, which does not move with the face.
    mask = np.zeros(previous_gray.shape, dtype=np.uint8)
    mx, my = 0.1 * width, 0.1 * (y2 - y1)
    mask[int(y1 + my): int(y2 - my), int(x1 + mx): int(x2 - mx)] = 255
    start = cv2.goodFeaturesToTrack(previous_gray, maxCorners=200, qualityLevel=0.01, minDistance=3, mask=mask)
    if start is None or len(start) < MIN_POINTS:
        return None
    moved, ok, _ = cv2.calcOpticalFlowPyrLK(previous_gray, gray, start, None)
    back, ok_back, _ = cv2.calcOpticalFlowPyrLK(gray, previous_gray, moved, None)
    # Forward-backward check: a point that does not come back to where it started was mistracked.
    good = (ok.ravel() == 1) & (ok_back.ravel() == 1) & (np.linalg.norm(back - start, axis=2).ravel() < 0.5)
    if good.sum() < MIN_POINTS:
        return None
    p0, p1 = start[good].reshape(-1, 2), moved[good].reshape(-1, 2)
    homography, _ = cv2.findHomography(p0, p1, 0)  # least squares over all points: no outlier is excused
    if homography is None:
        return None
    projected = cv2.perspectiveTransform(p0[None], homography)[0]
    return PairMotion(time, int(good.sum()), float(np.median(np.linalg.norm(p1 - p0, axis=1)) / width),
                      float(np.median(np.linalg.norm(p1 - projected, axis=1)) / width))


@dataclass
class CueFrame:
    index: int
    time: float
    box: tuple[float, float, float, float]
    points: np.ndarray  # 68 landmarks
    ear: float
    yaw: float


@dataclass
class TrackCues:
    """The cues of one face track; see the module docstring for each."""

    track_id: int
    frames: list[CueFrame] = field(default_factory=list)
    pairs: list[PairMotion] = field(default_factory=list)

    @property
    def blinks(self) -> list[Blink]:
        return detect_blinks([f.time for f in self.frames], [f.ear for f in self.frames])

    @property
    def moving_pairs(self) -> list[PairMotion]:
        return [p for p in self.pairs if p.motion >= MIN_MOTION]

    @property
    def planar_residual(self) -> float | None:
        """Median residual over the frame pairs with motion; None when the face never moved."""
        moving = self.moving_pairs
        return float(np.median([p.residual for p in moving])) if moving else None

    @property
    def mean_area(self) -> float:
        return float(np.mean([(f.box[2] - f.box[0]) * (f.box[3] - f.box[1]) for f in self.frames]))

    def challenge(self, mirrored: bool = False) -> "ChallengeResult":
        return judge_turn_challenge([f.time for f in self.frames], [f.yaw for f in self.frames], mirrored)

    def to_dict(self) -> dict[str, Any]:
        residual = self.planar_residual
        return {"track": self.track_id, "frames": len(self.frames), "blinks": [vars(b) for b in self.blinks],
                "moving_pairs": len(self.moving_pairs),
                "planar_residual": None if residual is None else round(residual, 6),
                "challenge": vars(self.challenge())}


@dataclass
class VideoCues:
    frames_seen: int
    tracks: list[TrackCues] = field(default_factory=list)

    @property
    def subject(self) -> TrackCues:
        """The track seen in the most frames (ties: larger faces), as in :mod:`facetrust.liveness.video`.

        Not simply the largest face: a false detection can be larger than the person.
        """
        if not self.tracks:
            raise FaceNotFoundError(f"no face in any of the {self.frames_seen} frames")
        return max(self.tracks, key=lambda t: (len(t.frames), t.mean_area))

    def to_dict(self) -> dict[str, Any]:
        return {"frames_seen": self.frames_seen, "subject_track": self.subject.track_id,
                "tracks": [t.to_dict() for t in self.tracks]}


def video_cues(frames: Iterable[VideoFrame], analyzer: Any) -> VideoCues:
    """Follow every face through ``frames`` (dense: every frame) and measure the video cues of each track.

    ``analyzer`` is a :class:`~facetrust.analyzer.FaceAnalyzer` (its detector finds the
    faces). Faces are linked into tracks as in :func:`facetrust.liveness.video.check_frames`;
    only the previous frame is kept in memory, for the motion cue.
    """
    import cv2

    cues = VideoCues(0)
    tracker = FaceTracker()
    last_box: dict[int, tuple[float, ...]] = {}
    previous_gray: np.ndarray | None = None
    previous_tracks: set[int] = set()
    for frame in frames:
        cues.frames_seen += 1
        gray = cv2.cvtColor(frame.image, cv2.COLOR_RGB2GRAY)
        height, width = frame.image.shape[:2]
        seen = set()
        faces = analyzer.detect(frame.image)
        for face, best in zip(faces, tracker.assign([f.box for f in faces])):
            if best == len(cues.tracks):
                cues.tracks.append(TrackCues(best))
            track = cues.tracks[best]
            box = tuple(float(v) for v in face.box)
            points = landmarks68(frame.image, box)
            track.frames.append(CueFrame(frame.index, frame.time, box, points, face_ear(points),
                                         estimate_yaw(points, width, height)))
            # Motion only between consecutive frames of the track: never across a gap.
            if previous_gray is not None and best in previous_tracks:
                pair = pair_motion(previous_gray, gray, last_box[best], frame.time)
                if pair is not None:
                    track.pairs.append(pair)
            last_box[best] = box
            seen.add(best)
        previous_gray, previous_tracks = gray, seen
    return cues


@dataclass(frozen=True)
class ChallengeResult:
    passed: bool
    reason: str
    left_time: float | None = None  # when the turn to the subject's left reached TURN_DEGREES
    right_time: float | None = None
    max_left: float | None = None  # largest yaw to each side, degrees
    max_right: float | None = None


def judge_turn_challenge(times: Sequence[float], yaws: Sequence[float], mirrored: bool = False,
                         turn: float = TURN_DEGREES, frontal: float = FRONTAL_DEGREES,
                         max_seconds: float = MAX_CHALLENGE_SECONDS) -> ChallengeResult:
    """Judge :data:`CHALLENGE` from a yaw series (degrees, > 0 = nose to the image right).

    Passed when, in order: the first sample is within ``frontal`` of frontal; the yaw
    then reaches ``+turn`` (subject's left; ``-turn`` if the frames are mirrored like a
    selfie preview); after that ``-turn`` (the right); all within ``max_seconds`` of the
    first sample, with no gap over :data:`MAX_GAP_SECONDS` and no yaw change faster than
    :data:`MAX_YAW_SPEED` (a cut between two pictures is not a turn).
    """
    t = np.asarray(times, dtype=np.float64)
    yaw = np.asarray(yaws, dtype=np.float64) * (-1.0 if mirrored else 1.0)
    if len(yaw) < 3:
        return ChallengeResult(False, f"only {len(yaw)} frame(s) with a face")
    extremes = {"max_left": float(yaw.max()), "max_right": float(-yaw.min())}
    if abs(yaw[0]) > frontal:
        return ChallengeResult(False, f"did not start facing the camera (yaw {yaw[0]:.0f} degrees)", **extremes)
    left = np.flatnonzero(yaw >= turn)
    if not len(left):
        return ChallengeResult(False, f"no turn to the left (largest {extremes['max_left']:.0f} of "
                                      f"{turn:.0f} degrees)", **extremes)
    right = np.flatnonzero((yaw <= -turn) & (np.arange(len(yaw)) > left[0]))
    if not len(right):
        return ChallengeResult(False, "no turn to the right after the left turn", float(t[left[0]]), **extremes)
    end = right[0]
    times_used = (float(t[left[0]]), float(t[end]))
    if t[end] - t[0] > max_seconds:
        return ChallengeResult(False, f"took {t[end] - t[0]:.1f} s, more than {max_seconds:g} s", *times_used,
                               **extremes)
    steps = np.diff(t[: end + 1])
    if steps.max() > MAX_GAP_SECONDS:
        return ChallengeResult(False, f"face lost for {steps.max():.2f} s during the challenge", *times_used,
                               **extremes)
    speed = np.abs(np.diff(yaw[: end + 1])) / np.maximum(steps, 1e-6)
    if speed.max() > MAX_YAW_SPEED:
        return ChallengeResult(False, f"yaw jumped at {speed.max():.0f} degrees/s: a cut, not a turn", *times_used,
                               **extremes)
    return ChallengeResult(True, "turned left, then right", *times_used, **extremes)


def synthetic_planar_frames(image: np.ndarray, count: int, fps: float = 30.0, tilt_degrees: float = 10.0,
                            shift: float = 0.02) -> list[VideoFrame]:
    """A held-up photo, simulated: ``image`` as a rigid plane swaying in front of a pinhole camera.

    The plane turns about its vertical and horizontal axes by up to ``tilt_degrees``
    (sinusoids of 2.0 and 2.9 s), rolls by a third of that and shifts by up to
    ``shift`` x its width, so every frame is ``image`` under one homography — the
    ground truth the planar-motion cue must recognise.
    """
    import cv2

    height, width = image.shape[:2]
    focal = float(width)
    centre = np.array([width / 2, height / 2])
    corners = np.array([[0, 0], [width - 1, 0], [width - 1, height - 1], [0, height - 1]], dtype=np.float64)
    frames = []
    for index in range(count):
        t = index / fps
        yaw, pitch = np.radians(tilt_degrees) * np.array([np.sin(2 * np.pi * t / 2.0), np.sin(2 * np.pi * t / 2.9)])
        roll = np.radians(tilt_degrees / 3) * np.sin(2 * np.pi * t / 3.7)
        rotation = cv2.Rodrigues(np.array([pitch, yaw, roll]))[0]
        plane = np.column_stack([corners - centre, np.zeros(4)]) @ rotation.T
        plane[:, :2] += shift * width * np.array([np.sin(2 * np.pi * t / 2.3), np.cos(2 * np.pi * t / 3.1)])
        plane[:, 2] += focal  # the photo's centre is one focal length in front of the camera
        projected = focal * plane[:, :2] / plane[:, 2:] + centre
        homography = cv2.getPerspectiveTransform(corners.astype(np.float32), projected.astype(np.float32))
        warped = cv2.warpPerspective(image, homography, (width, height), borderMode=cv2.BORDER_REPLICATE)
        frames.append(VideoFrame(index, t, warped))
    return frames
