//! Is it one person, alone, throughout? Guards against swapping faces mid-capture (a live
//! accomplice does the moves, then a photo of the victim is shown) and against a second
//! person in view.
//!
//! Every usable frame's embedding is compared with the anchor: the most frontal usable
//! frame, because embeddings of a face turned by 25-30 degrees agree less with each other
//! than with a frontal view, and a frontal anchor keeps every comparison one pose step
//! away. The default threshold (0.45) is below the face-match threshold for the same
//! reason: a turned head is genuinely harder to recognise.

use super::observe::FrameObservation;

/// What the identity checks measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IdentityScores {
    /// Index of the anchor frame; `None` when no frame had an embedding.
    pub anchor: Option<usize>,
    /// Lowest cosine of a usable frame against the anchor; `None` without an anchor.
    pub min_similarity: Option<f32>,
    /// Most faces seen in one frame.
    pub max_faces: usize,
    /// Frames in which no face was found at all.
    pub faceless_frames: usize,
}

/// Measures identity over `frames`, considering only those `usable` marks for the
/// similarity (index-aligned; a missing entry counts as unusable). `pitch_baseline` is
/// the capture's level pitch, so "most frontal" means closest to level.
pub fn identity_scores(
    frames: &[FrameObservation],
    usable: &[bool],
    pitch_baseline: f32,
) -> IdentityScores {
    let is_usable = |i: usize| usable.get(i).copied().unwrap_or(false);
    let anchor = frames
        .iter()
        .enumerate()
        .filter(|(i, f)| is_usable(*i) && f.embedding.is_some())
        .filter_map(|(i, f)| {
            f.pose()
                .map(|(y, p)| (i, y * y + (p - pitch_baseline) * (p - pitch_baseline)))
        })
        .filter(|(_, d)| d.is_finite())
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(i, _)| i);
    let min_similarity = anchor.and_then(|a| {
        let anchor_embedding = frames.get(a)?.embedding.as_ref()?;
        frames
            .iter()
            .enumerate()
            .filter(|(i, _)| is_usable(*i))
            .map(|(_, f)| match &f.embedding {
                Some(e) => e.cosine(anchor_embedding),
                // A usable frame without an embedding cannot vouch for itself.
                None => -1.0,
            })
            .map(|c| if c.is_nan() { -1.0 } else { c })
            .min_by(|a, b| a.total_cmp(b))
    });
    IdentityScores {
        anchor,
        min_similarity,
        max_faces: frames.iter().map(|f| f.faces_found).max().unwrap_or(0),
        faceless_frames: frames.iter().filter(|f| f.faces_found == 0).count(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::face::FaceEmbedding;
    use crate::liveness::observe::tests::observation;
    use crate::liveness::planarity::tests::{head_model, project};

    fn embedding(seed: f32) -> FaceEmbedding {
        let v: Vec<f32> = (0..128).map(|i| (i as f32 * 0.37 + seed).sin()).collect();
        FaceEmbedding::from_raw(v).unwrap()
    }

    fn posed(t: u64, yaw: f32, e: FaceEmbedding) -> FrameObservation {
        let mut o = observation(t, project(&head_model(0.4), yaw, 0.0));
        o.embedding = Some(e);
        o
    }

    #[test]
    fn one_person_passes_and_a_swap_is_caught() {
        let same = vec![
            posed(0, 20.0, embedding(0.0)),
            posed(100, 2.0, embedding(0.05)),
            posed(200, -20.0, embedding(0.1)),
        ];
        let s = identity_scores(&same, &[true; 3], 0.0);
        assert_eq!(s.anchor, Some(1));
        assert!(s.min_similarity.unwrap() > 0.9, "{s:?}");
        let mut swapped = same.clone();
        swapped[2].embedding = Some(embedding(40.0));
        let s = identity_scores(&swapped, &[true; 3], 0.0);
        assert!(s.min_similarity.unwrap() < 0.45, "{s:?}");
        // The swapped frame marked unusable is not compared.
        let s = identity_scores(&swapped, &[true, true, false], 0.0);
        assert!(s.min_similarity.unwrap() > 0.9);
    }

    #[test]
    fn missing_embeddings_and_extra_faces_are_reported() {
        let mut frames = vec![
            posed(0, 0.0, embedding(0.0)),
            posed(100, 10.0, embedding(0.0)),
        ];
        frames[1].embedding = None;
        let s = identity_scores(&frames, &[true, true], 0.0);
        assert_eq!(s.min_similarity, Some(-1.0));
        frames[1].faces_found = 2;
        let mut lost = frames[0].clone();
        lost.faces_found = 0;
        frames.push(lost);
        let s = identity_scores(&frames, &[true, false, false], 0.0);
        assert_eq!((s.max_faces, s.faceless_frames), (2, 1));
        let s = identity_scores(&frames, &[], 0.0);
        assert_eq!((s.anchor, s.min_similarity), (None, None));
    }
}
