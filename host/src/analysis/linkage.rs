//! Average-linkage agglomerative clustering on cosine similarity, used to
//! count the people in a set of faces and to spot faces that belong to
//! nobody.
//!
//! A recognizer comes with a same-person threshold: two faces whose cosine
//! similarity exceeds it are, on the model's benchmark, the same person.
//! Average linkage merges the two groups with the highest mean pairwise
//! similarity, so if merging stops where that mean falls below the threshold,
//! every group left is a set of faces that, taken together, look like one
//! person, and no two groups do. Groups of one face are outliers: strangers
//! in the background, false detections, or a person seen once.
//!
//! **Exact, without an n x n matrix.** For unit vectors the mean pairwise
//! cosine of two groups is the dot product of their mean vectors, so a
//! group is its sum and its size, and any two groups' linkage costs one dot
//! product. And two groups whose mean similarity is at least `s` hold at
//! least one pair of faces at least `s` alike. So the tree is built in two
//! phases, both exact:
//!
//! 1. **Above a floor**: every pair of faces at least `floor` alike is found
//!    with blocked matrix products (rows in blocks, never the whole matrix),
//!    and groups are merged best-first over that graph, recomputing each
//!    new group's links from the sums. Any two groups at least `floor`
//!    alike are joined by an edge, so every merge down to the floor is the
//!    one exact average linkage makes.
//! 2. **Below it**, the groups left (people and outliers, when the floor is
//!    the same-person threshold) are merged by the nearest-neighbour chain
//!    algorithm, which average linkage allows because it is reducible, in
//!    memory linear in the number of groups.
//!
//! The floor only decides speed: it is the same-person threshold when there
//! is one, raised if needed so that the graph holds at most
//! [`EDGES_PER_FACE`] pairs per face on average (estimated from a sample).
//! SciPy's and kodama's dense implementations give the same merges (the
//! tests compare them).

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use ndarray::{Array2, ArrayView2, Axis, s};
use rand::SeedableRng;
use rand::seq::index::sample;
use rayon::prelude::*;

/// Average pairs per face the similarity graph may hold; a higher floor is
/// used when there would be more.
pub(crate) const EDGES_PER_FACE: usize = 256;

/// Rows per block of the pair search.
const BLOCK: usize = 256;

/// The dendrogram of a set of embeddings.
#[derive(Debug, Clone)]
pub struct Tree {
    n: usize,
    /// `(a, b, similarity)` per merge, in merge order; clusters are numbered
    /// as in SciPy (`0..n` leaves, then `n + step`).
    merges: Vec<(usize, usize, f32)>,
}

/// Pairs of rows at least `floor` alike: `(i, j, cosine)` with `i < j`.
#[derive(Debug, Clone)]
pub(crate) struct Graph {
    n: usize,
    floor: f32,
    edges: Vec<(u32, u32, f32)>,
}

impl Graph {
    /// Finds every pair of the L2-normalised rows of `x` at least `floor`
    /// alike (see [`floor_for`]), a block of rows at a time.
    pub(crate) fn build(x: ArrayView2<'_, f32>, floor: f32) -> Graph {
        #[cfg(test)]
        super::probe::seen();
        let n = x.nrows();
        let blocks: Vec<usize> = (0..n).step_by(BLOCK).collect();
        let parts: Vec<Vec<(u32, u32, f32)>> = blocks
            .par_iter()
            .map(|&i0| {
                let i1 = (i0 + BLOCK).min(n);
                // Only the upper triangle: columns from i0 on.
                let g = x.slice(s![i0..i1, ..]).dot(&x.slice(s![i0.., ..]).t());
                let mut out = Vec::new();
                for (r, row) in g.rows().into_iter().enumerate() {
                    let i = i0 + r;
                    for (c, &sim) in row.iter().enumerate().skip(r + 1) {
                        if sim >= floor {
                            out.push((i as u32, (i0 + c) as u32, sim));
                        }
                    }
                }
                out
            })
            .collect();
        Graph { n, floor, edges: parts.into_iter().flatten().collect() }
    }

    /// The pairs among `rows` only, renumbered by position in `rows`.
    pub(crate) fn restricted(&self, rows: &[usize]) -> Graph {
        let mut pos = vec![u32::MAX; self.n];
        for (p, &r) in rows.iter().enumerate() {
            pos[r] = p as u32;
        }
        let edges = self
            .edges
            .iter()
            .filter_map(|&(i, j, s)| {
                let (a, b) = (pos[i as usize], pos[j as usize]);
                (a != u32::MAX && b != u32::MAX).then_some((a.min(b), a.max(b), s))
            })
            .collect();
        Graph { n: rows.len(), floor: self.floor, edges }
    }

    /// Pairs held (each once).
    pub(crate) fn pairs(&self) -> usize {
        self.edges.len()
    }

    /// The similarity below which pairs were dropped.
    pub(crate) fn floor(&self) -> f32 {
        self.floor
    }
}

/// The floor of the similarity graph: `wanted` (the same-person threshold),
/// raised where needed so that about `per_face` pairs per face at most are
/// above it, as estimated from the similarities of up to 256 sampled rows
/// (seeded) to all rows. Without `wanted`, the floor that keeps `per_face`.
pub(crate) fn floor_for(x: ArrayView2<'_, f32>, wanted: Option<f32>, per_face: usize) -> f32 {
    let n = x.nrows();
    let share = per_face as f64 / n.saturating_sub(1).max(1) as f64;
    let budget = if share >= 1.0 {
        f32::NEG_INFINITY
    } else {
        let mut rng = rand::rngs::StdRng::seed_from_u64(0x5eed);
        let rows = sample(&mut rng, n, n.min(256)).into_vec();
        let g = x.select(Axis(0), &rows).dot(&x.t());
        let mut sims: Vec<f32> = g
            .rows()
            .into_iter()
            .zip(&rows)
            .flat_map(|(row, &i)| row.iter().enumerate().filter(move |(j, _)| *j != i).map(|(_, &v)| v).collect::<Vec<_>>())
            .collect();
        let above = ((sims.len() as f64 * share).floor() as usize).min(sims.len().saturating_sub(1));
        let at = sims.len() - 1 - above;
        sims.select_nth_unstable_by(at, f32::total_cmp);
        sims[at]
    };
    wanted.map_or(budget, |w| w.max(budget))
}

/// Builds the full average-linkage tree of the L2-normalised rows of `x`
/// over `graph` (of the same rows); see the module docs.
pub(crate) fn average_linkage(x: ArrayView2<'_, f32>, graph: &Graph) -> Tree {
    build(x, graph, true)
}

/// The tree down to the graph's floor only: every merge at least that
/// alike, which is all that a cut at or above the floor needs.
pub(crate) fn average_linkage_above_floor(x: ArrayView2<'_, f32>, graph: &Graph) -> Tree {
    build(x, graph, false)
}

/// A candidate merge in the best-first phase; ordered by similarity, then
/// by the lower slots (so ties resolve the same way every run).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Candidate {
    sim: f32,
    a: u32,
    b: u32,
    va: u32,
    vb: u32,
}

impl Eq for Candidate {}

impl Ord for Candidate {
    fn cmp(&self, o: &Self) -> Ordering {
        self.sim.total_cmp(&o.sim).then(o.a.cmp(&self.a)).then(o.b.cmp(&self.b))
    }
}

impl PartialOrd for Candidate {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}

/// Groups as sums and sizes, one slot per leaf; a merge keeps the lower
/// slot. `merges` are `(slot, slot, similarity)`.
struct Groups {
    sums: Array2<f64>,
    size: Vec<usize>,
    alive: Vec<bool>,
    merges: Vec<(usize, usize, f32)>,
}

impl Groups {
    fn sim(&self, a: usize, b: usize) -> f32 {
        let dot: f64 = self.sums.row(a).iter().zip(self.sums.row(b).iter()).map(|(p, q)| p * q).sum();
        (dot / (self.size[a] * self.size[b]) as f64) as f32
    }

    /// Merges `b` into `a` (the lower slot).
    fn merge(&mut self, a: usize, b: usize, sim: f32) -> usize {
        let (keep, gone) = (a.min(b), a.max(b));
        let moved = self.sums.row(gone).to_owned();
        let mut row = self.sums.row_mut(keep);
        row += &moved;
        self.size[keep] += self.size[gone];
        self.alive[gone] = false;
        self.merges.push((keep, gone, sim));
        keep
    }
}

fn build(x: ArrayView2<'_, f32>, graph: &Graph, complete: bool) -> Tree {
    let n = x.nrows();
    if n < 2 {
        return Tree { n, merges: Vec::new() };
    }
    let mut g = Groups { sums: x.mapv(f64::from), size: vec![1; n], alive: vec![true; n], merges: Vec::with_capacity(n - 1) };

    // Phase 1: best-first over the graph. Neighbour lists may name slots
    // merged away since; `root` maps them to the slot that holds them now.
    let mut adj: Vec<Vec<u32>> = vec![Vec::new(); n];
    for &(i, j, _) in &graph.edges {
        adj[i as usize].push(j);
        adj[j as usize].push(i);
    }
    let mut parent: Vec<u32> = (0..n as u32).collect();
    fn root(p: &mut [u32], mut i: u32) -> u32 {
        while p[i as usize] != i {
            p[i as usize] = p[p[i as usize] as usize];
            i = p[i as usize];
        }
        i
    }
    let mut version = vec![0u32; n];
    let mut heap: BinaryHeap<Candidate> =
        graph.edges.iter().map(|&(i, j, _)| Candidate { sim: g.sim(i as usize, j as usize), a: i, b: j, va: 0, vb: 0 }).collect();
    while let Some(c) = heap.pop() {
        if c.sim < graph.floor {
            break;
        }
        let (a, b) = (c.a as usize, c.b as usize);
        if !g.alive[a] || !g.alive[b] || version[a] != c.va || version[b] != c.vb {
            continue;
        }
        let keep = g.merge(a, b, c.sim);
        let gone = a.max(b);
        parent[gone] = keep as u32;
        version[keep] += 1;
        let mut next: Vec<u32> = std::mem::take(&mut adj[a]);
        next.append(&mut std::mem::take(&mut adj[b]));
        for v in &mut next {
            *v = root(&mut parent, *v);
        }
        next.sort_unstable();
        next.dedup();
        next.retain(|&v| v as usize != keep);
        for &v in &next {
            let (p, q) = (keep.min(v as usize), keep.max(v as usize));
            heap.push(Candidate { sim: g.sim(p, q), a: p as u32, b: q as u32, va: version[p], vb: version[q] });
        }
        adj[keep] = next;
    }
    drop(heap);
    drop(adj);

    // Phase 2: the nearest-neighbour chain over the groups left.
    if complete {
        let start = g.merges.len();
        nn_chain(&mut g);
        // The chain finds merges out of order; reducibility makes sorting
        // them (stably, so dependent merges keep their order) a valid tree.
        g.merges[start..].sort_by(|p, q| q.2.total_cmp(&p.2));
    }
    Tree { n, merges: numbered(n, &g.merges) }
}

/// Nearest-neighbour chain over the live groups of `g`.
fn nn_chain(g: &mut Groups) {
    #[cfg(test)]
    super::probe::seen();
    let mut live: Vec<usize> = (0..g.alive.len()).filter(|&i| g.alive[i]).collect();
    let mut chain: Vec<usize> = Vec::new();
    while live.len() > 1 {
        if chain.is_empty() {
            chain.push(live[0]);
        }
        let a = *chain.last().unwrap_or(&live[0]);
        let prev = chain.len().checked_sub(2).map(|i| chain[i]);
        // The most similar other group; the previous link wins ties, which
        // is what makes the chain end.
        let sims: Vec<(usize, f32)> = live.par_iter().filter(|&&b| b != a).map(|&b| (b, g.sim(a, b))).collect();
        let mut best = sims[0];
        for &(b, s) in &sims[1..] {
            if s > best.1 || (s == best.1 && Some(b) == prev) {
                best = (b, s);
            }
        }
        if let Some(p) = prev
            && (best.0 == p || g.sim(a, p) >= best.1)
        {
            chain.truncate(chain.len() - 2);
            let sim = g.sim(a, p);
            let keep = g.merge(a, p, sim);
            let gone = a.max(p);
            live.retain(|&v| v != gone);
            let _ = keep;
        } else {
            chain.push(best.0);
        }
    }
}

/// Slot merges to SciPy numbering: leaves `0..n`, the cluster made by merge
/// `s` is `n + s`.
fn numbered(n: usize, merges: &[(usize, usize, f32)]) -> Vec<(usize, usize, f32)> {
    let mut id: Vec<usize> = (0..n).collect();
    merges
        .iter()
        .enumerate()
        .map(|(step, &(keep, gone, sim))| {
            let out = (id[keep].min(id[gone]), id[keep].max(id[gone]), sim);
            id[keep] = n + step;
            out
        })
        .collect()
}

impl Tree {
    pub fn len(&self) -> usize {
        self.n
    }

    /// Whether there are no leaves.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Mean similarity at each merge, in merge order (non-increasing for
    /// average linkage).
    pub fn merge_similarities(&self) -> Vec<f32> {
        self.merges.iter().map(|m| m.2).collect()
    }

    /// Groups formed by the merges whose similarity is at least `threshold`.
    /// Returns one group index per leaf, groups numbered from 0 in order of
    /// their first leaf.
    pub fn cut_at(&self, threshold: f32) -> Vec<usize> {
        let steps = self.merges.iter().take_while(|m| m.2 >= threshold).count();
        self.cut_after(steps)
    }

    /// Exactly `k` groups (the first `n - k` merges).
    pub fn cut_into(&self, k: usize) -> Vec<usize> {
        self.cut_after(self.n.saturating_sub(k.max(1)))
    }

    fn cut_after(&self, steps: usize) -> Vec<usize> {
        // Union-find over leaves and merged clusters.
        let total = self.n + self.merges.len();
        let mut parent: Vec<usize> = (0..total).collect();
        fn root(p: &mut [usize], mut i: usize) -> usize {
            while p[i] != i {
                p[i] = p[p[i]];
                i = p[i];
            }
            i
        }
        for (s, &(a, b, _)) in self.merges.iter().take(steps).enumerate() {
            let new = self.n + s;
            let (ra, rb) = (root(&mut parent, a), root(&mut parent, b));
            parent[ra] = new;
            parent[rb] = new;
        }
        let mut ids = std::collections::HashMap::new();
        (0..self.n)
            .map(|i| {
                let r = root(&mut parent, i);
                let next = ids.len();
                *ids.entry(r).or_insert(next)
            })
            .collect()
    }
}

/// How many people a set of faces holds, by the same-person threshold.
#[derive(Debug, Clone)]
pub(crate) struct PeopleEstimate {
    /// Number of groups with at least `min_faces` faces: the people.
    pub people: usize,
    /// Faces in smaller groups: the outliers.
    pub outliers: Vec<usize>,
}

/// Cuts the tree at `threshold` and counts groups of at least `min_faces`.
pub(crate) fn estimate_people(tree: &Tree, threshold: f32, min_faces: usize) -> PeopleEstimate {
    let groups = tree.cut_at(threshold);
    let mut sizes = std::collections::HashMap::<usize, usize>::new();
    for &g in &groups {
        *sizes.entry(g).or_default() += 1;
    }
    let people = sizes.values().filter(|&&s| s >= min_faces).count();
    let outliers = groups.iter().enumerate().filter(|&(_, g)| sizes[g] < min_faces).map(|(i, _)| i).collect();
    PeopleEstimate { people, outliers }
}

/// The threshold implied by the data alone: the middle of the widest gap
/// between consecutive merge similarities (among merges above -1), used when
/// the recognizer publishes no same-person threshold.
pub(crate) fn widest_gap_threshold(tree: &Tree) -> Option<f32> {
    let sims = tree.merge_similarities();
    sims.windows(2).map(|w| (w[0] - w[1], (w[0] + w[1]) / 2.0)).max_by(|a, b| a.0.total_cmp(&b.0)).map(|(_, mid)| mid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;
    use rand::Rng;

    fn unit_rows(rows: &[[f32; 3]]) -> Array2<f32> {
        let mut x = Array2::from_shape_fn((rows.len(), 3), |(i, j)| rows[i][j]);
        for mut r in x.rows_mut() {
            let n = r.dot(&r).sqrt();
            r /= n;
        }
        x
    }

    fn tree(x: &Array2<f32>, floor: f32) -> Tree {
        average_linkage(x.view(), &Graph::build(x.view(), floor))
    }

    #[test]
    fn counts_people_and_leaves_strangers_out() {
        // Two tight groups, and one face orthogonal to both.
        let x = unit_rows(&[[1.0, 0.05, 0.0], [1.0, -0.05, 0.0], [1.0, 0.0, 0.05], [0.0, 1.0, 0.05], [0.05, 1.0, 0.0], [0.0, 0.0, 1.0]]);
        let tree = tree(&x, 0.363);
        let est = estimate_people(&tree, 0.363, 2);
        assert_eq!(est.people, 2);
        assert_eq!(est.outliers, vec![5]);
        let groups = tree.cut_at(0.363);
        assert_eq!(groups[0], groups[2]);
        assert_ne!(groups[0], groups[3]);
        let g = widest_gap_threshold(&tree).unwrap();
        assert!(g > 0.1 && g < 0.9, "{g}");
    }

    #[test]
    fn cut_into_k_gives_k_groups() {
        let x = unit_rows(&[[1.0, 0.0, 0.0], [0.9, 0.1, 0.0], [0.0, 1.0, 0.0], [0.0, 0.9, 0.1], [0.0, 0.0, 1.0]]);
        let tree = tree(&x, 0.5);
        for k in 1..=5 {
            let g = tree.cut_into(k);
            let distinct: std::collections::HashSet<_> = g.iter().collect();
            assert_eq!(distinct.len(), k);
        }
    }

    /// People as noisy copies of random directions in 32-d, plus strangers.
    fn people(n_people: usize, faces: usize, strangers: usize, seed: u64) -> Array2<f32> {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let d = 32;
        let mut rows = Vec::new();
        let centre = |rng: &mut rand::rngs::StdRng| (0..d).map(|_| rng.random::<f32>() - 0.5).collect::<Vec<f32>>();
        for _ in 0..n_people {
            let c = centre(&mut rng);
            for _ in 0..faces {
                rows.extend(c.iter().map(|v| v + (rng.random::<f32>() - 0.5) * 0.6));
            }
        }
        for _ in 0..strangers {
            rows.extend(centre(&mut rng));
        }
        let mut x = Array2::from_shape_vec((rows.len() / d, d), rows).unwrap();
        for mut r in x.rows_mut() {
            let n = r.dot(&r).sqrt();
            r /= n;
        }
        x
    }

    /// kodama's dense average linkage: merge similarities, and the groups of
    /// every cut.
    fn dense(x: &Array2<f32>) -> (Vec<f32>, Tree) {
        let n = x.nrows();
        let g = x.dot(&x.t());
        let mut condensed = Vec::new();
        for i in 0..n {
            for j in i + 1..n {
                condensed.push(1.0 - g[[i, j]]);
            }
        }
        let d = kodama::linkage(&mut condensed, n, kodama::Method::Average);
        let merges: Vec<(usize, usize, f32)> = d.steps().iter().map(|s| (s.cluster1, s.cluster2, 1.0 - s.dissimilarity)).collect();
        (merges.iter().map(|m| m.2).collect(), Tree { n, merges })
    }

    /// Two labellings are the same partition.
    fn same_partition(a: &[usize], b: &[usize]) -> bool {
        let mut ab = std::collections::HashMap::new();
        let mut ba = std::collections::HashMap::new();
        a.iter().zip(b).all(|(&p, &q)| *ab.entry(p).or_insert(q) == q && *ba.entry(q).or_insert(p) == p)
    }

    #[test]
    fn the_graph_tree_is_the_dense_tree_at_any_floor() {
        for (seed, floor) in [(1, 0.3), (2, 0.5), (3, -1.0), (4, 0.9)] {
            let x = people(12, 6, 10, seed);
            let (want, dense) = dense(&x);
            let ours = tree(&x, floor);
            let got = ours.merge_similarities();
            assert_eq!(got.len(), want.len());
            for (g, w) in got.iter().zip(&want) {
                assert!((g - w).abs() < 1e-4, "seed {seed}, floor {floor}: {got:?} vs {want:?}");
            }
            for k in [1, 2, 5, 12, 20, 40, x.nrows()] {
                assert!(same_partition(&ours.cut_into(k), &dense.cut_into(k)), "seed {seed}, floor {floor}, k {k}");
            }
            // Down to the floor only: the same merges above it.
            let above = average_linkage_above_floor(x.view(), &Graph::build(x.view(), floor));
            let cut = floor.max(0.2);
            assert!(same_partition(&above.cut_at(cut), &dense.cut_at(cut)), "seed {seed}, floor {floor}");
        }
    }

    #[test]
    fn the_floor_keeps_the_graph_small() {
        let x = people(50, 8, 50, 5);
        let n = x.nrows();
        assert_eq!(floor_for(x.view(), Some(0.4), n), 0.4, "room for every pair: the threshold as it is");
        let f = floor_for(x.view(), Some(0.0), 8);
        let g = Graph::build(x.view(), f);
        assert!(f > 0.0 && g.pairs() <= n * 8 * 2, "floor {f}: {} pairs for {n} faces", g.pairs());
        assert!(floor_for(x.view(), None, n) == f32::NEG_INFINITY);
    }
}
