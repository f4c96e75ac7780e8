//! Where the mapping threads of `run --threads N` run: each kept on a CPU of its own, when the process
//! may use at least N CPUs (`--no-pin` leaves them to the kernel).
//!
//! Left to itself, the kernel of a virtual machine like the two-vCPU one this project is measured on
//! places a new thread on the CPU of the thread that started it, where it waits while the other CPU
//! sits idle, and a thread that sleeps for a moment (for the result due next, or in a page fault) can
//! be woken onto the other thread's CPU and stay there. Traced with `perf sched`, two-thread runs on
//! the realistic corpus spent from 0.1 to 12.5 ms in all waiting for a CPU (22 runs, 16 of them over
//! 2 ms), against 0.1–0.4 ms with each thread kept on its own CPU, and took 2–4% less time (paired
//! rounds; `docs/performance.md` has the figures). The kernel of this guest has a setting that says it packs tasks onto fewer virtual CPUs
//! (`kernel.sched_vcpu_pack`); other machines may not do this, and then keeping the threads apart costs
//! a migration or two at the start.
//!
//! What it gives up is the kernel moving a thread off a CPU that another process is busy on. The
//! threads share out the work as they go (each takes the next segment itself), so a thread held back
//! that way maps fewer segments rather than leaving its share undone; a user who would rather let the
//! kernel decide has `--no-pin`. Seastar and glommio keep their threads on CPUs the same way.
//!
//! Linux only: elsewhere the threads are left to the system.

/// The CPUs a run's threads are kept on, by thread, the thread that starts the others first.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Placement {
    cpus: Vec<usize>,
}

impl Placement {
    /// A CPU of its own for each of `threads` threads, from those this process may run on, or `None`
    /// (the threads are left to the kernel) for one thread, for more threads than CPUs, or where the
    /// CPUs cannot be read. Called by the thread that will start the others, just before it does.
    pub(crate) fn spread(threads: usize) -> Option<Placement> {
        if threads < 2 {
            return None;
        }
        Placement::choose(&os::allowed_cpus()?, os::current_cpu()?, threads)
    }

    /// `threads` of the `allowed` CPUs, the first for the thread that starts the others. That thread
    /// gives up the CPU it is on (`current`) to the first thread it starts, which the kernel may well
    /// have queued there, and moves on to the last CPU taken.
    fn choose(allowed: &[usize], current: usize, threads: usize) -> Option<Placement> {
        if threads < 2 || threads > allowed.len() {
            return None;
        }
        let start = allowed.iter().position(|&cpu| cpu == current).unwrap_or(0);
        let mut cpus: Vec<usize> = allowed.iter().cycle().skip(start).take(threads).copied().collect();
        cpus.rotate_right(1);
        Some(Placement { cpus })
    }

    /// Keeps the calling thread, the run's thread `index`, on its CPU until the guard is dropped, when
    /// the CPUs it could run on before are given back (the thread that started the others goes on to
    /// deliver, and the threads the async runtime starts inherit its CPUs). Best effort: where the
    /// kernel refuses, the thread stays where the kernel puts it.
    pub(crate) fn keep(&self, index: usize) -> Kept {
        Kept { before: self.cpus.get(index).and_then(|&cpu| os::keep_on(cpu)) }
    }
}

/// A thread kept on one CPU (see [`Placement::keep`]).
pub(crate) struct Kept {
    before: Option<os::CpuSet>,
}

impl Drop for Kept {
    fn drop(&mut self) {
        if let Some(before) = &self.before {
            os::set_allowed(before);
        }
    }
}

#[cfg(target_os = "linux")]
mod os {
    /// The CPUs a thread may run on.
    pub(crate) struct CpuSet(libc::cpu_set_t);

    fn allowed() -> Option<CpuSet> {
        // SAFETY: a zeroed `cpu_set_t` is an empty set, and the kernel writes at most its size.
        #[allow(unsafe_code)]
        unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            let read = libc::sched_getaffinity(0, size_of::<libc::cpu_set_t>(), &mut set);
            (read == 0).then_some(CpuSet(set))
        }
    }

    pub(crate) fn set_allowed(set: &CpuSet) -> bool {
        // SAFETY: the kernel only reads the set, of the size given.
        #[allow(unsafe_code)]
        let set = unsafe { libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &set.0) };
        set == 0
    }

    /// The CPUs the calling thread may run on, in order.
    pub(crate) fn allowed_cpus() -> Option<Vec<usize>> {
        let set = allowed()?;
        // SAFETY: every CPU asked about is below `CPU_SETSIZE`, within the set.
        #[allow(unsafe_code)]
        let has = |cpu| unsafe { libc::CPU_ISSET(cpu, &set.0) };
        Some((0..libc::CPU_SETSIZE as usize).filter(|&cpu| has(cpu)).collect())
    }

    /// The CPU the calling thread is running on.
    pub(crate) fn current_cpu() -> Option<usize> {
        // SAFETY: no arguments; it answers -1 where it cannot tell.
        #[allow(unsafe_code)]
        let cpu = unsafe { libc::sched_getcpu() };
        usize::try_from(cpu).ok()
    }

    /// Keeps the calling thread on `cpu`, answering the CPUs it could run on before (`None` where
    /// either call fails, and then nothing has changed).
    pub(crate) fn keep_on(cpu: usize) -> Option<CpuSet> {
        let before = allowed()?;
        if cpu >= libc::CPU_SETSIZE as usize {
            return None;
        }
        let mut only = CpuSet(before.0);
        // SAFETY: `cpu` is below `CPU_SETSIZE`, within the set.
        #[allow(unsafe_code)]
        unsafe {
            libc::CPU_ZERO(&mut only.0);
            libc::CPU_SET(cpu, &mut only.0);
        }
        set_allowed(&only).then_some(before)
    }
}

#[cfg(not(target_os = "linux"))]
mod os {
    pub(crate) struct CpuSet;

    pub(crate) fn set_allowed(_: &CpuSet) -> bool {
        false
    }

    pub(crate) fn allowed_cpus() -> Option<Vec<usize>> {
        None
    }

    pub(crate) fn current_cpu() -> Option<usize> {
        None
    }

    pub(crate) fn keep_on(_: usize) -> Option<CpuSet> {
        None
    }
}

#[cfg(test)]
pub(crate) fn allowed_cpus() -> Option<Vec<usize>> {
    os::allowed_cpus()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn choose(allowed: &[usize], current: usize, threads: usize) -> Option<Vec<usize>> {
        Placement::choose(allowed, current, threads).map(|p| p.cpus)
    }

    #[test]
    fn the_starting_thread_hands_its_cpu_to_the_first_thread_it_starts() {
        assert_eq!(choose(&[0, 1], 0, 2), Some(vec![1, 0]));
        assert_eq!(choose(&[0, 1], 1, 2), Some(vec![0, 1]));
        assert_eq!(choose(&[0, 1, 2, 3], 2, 2), Some(vec![3, 2]));
        assert_eq!(choose(&[0, 1, 2, 3], 2, 4), Some(vec![1, 2, 3, 0]));
        assert_eq!(choose(&[0, 1, 2, 3], 3, 3), Some(vec![1, 3, 0]));
        // A process kept off some CPUs (`taskset`, a cgroup's cpuset) uses only the others.
        assert_eq!(choose(&[2, 5, 7], 5, 3), Some(vec![2, 5, 7]));
        // A CPU it is not allowed (it moved since the set was read) is not taken.
        assert_eq!(choose(&[2, 5], 0, 2), Some(vec![5, 2]));
    }

    #[test]
    fn threads_are_left_to_the_kernel_where_they_cannot_have_a_cpu_each() {
        assert_eq!(choose(&[0, 1], 0, 1), None);
        assert_eq!(choose(&[0, 1], 0, 3), None);
        assert_eq!(choose(&[4], 4, 2), None);
        assert_eq!(Placement::spread(1), None);
        assert_eq!(Placement::spread(1 << 20), None);
    }
}
