/*
 * list.h - every unit test, in the order the runner runs them.
 *
 * X(name, timeout_s): the test is `TEST_IMPL(name)` in one of the
 * test_*.c files; timeout_s is its timeout in seconds, 0 for the runner's
 * default (60 s, or -t).  A test defined but not listed here never runs,
 * and one listed but not defined does not link.
 */
#ifndef GT_TEST_LIST_H
#define GT_TEST_LIST_H

#define TEST_LIST(X)                          \
    /* test_threads.c */                      \
    X(threads_main_returns_zero, 0)           \
    X(threads_main_twice, 0)                  \
    X(threads_spawn_join_many, 0)             \
    X(threads_exit, 0)                        \
    X(threads_detach, 0)                      \
    X(threads_detach_exited, 0)               \
    X(threads_self_id, 0)                     \
    X(threads_names, 0)                       \
    X(threads_yield_order, 0)                 \
    X(threads_custom_stack, 0)                \
    X(threads_stack_size_env, 0)              \
    X(threads_overflow_reported, 0)           \
    X(threads_100k_park, 120)                 \
    /* test_unstacked.c */                    \
    X(unstacked_wait_gives_back_stack, 0)     \
    X(unstacked_wait_times_out, 0)            \
    X(unstacked_wait_fd_closed, 0)            \
    X(unstacked_wait_early_returns, 0)        \
    /* test_stacks.c */                       \
    X(stacks_memory_returns_after_peak, 120)  \
    X(stacks_guard_and_cache_from_env, 0)     \
    /* test_sleep.c */                        \
    X(sleep_order, 0)                         \
    X(sleep_zero_yields, 0)                   \
    X(sleep_elapsed, 0)                       \
    X(sleep_many, 0)                          \
    /* test_sync.c */                         \
    X(mutex_contention, 0)                    \
    X(mutex_fifo_handoff, 0)                  \
    X(mutex_trylock, 0)                       \
    X(cond_producer_consumer, 0)              \
    X(cond_signal_fifo, 0)                    \
    X(cond_broadcast, 0)                      \
    X(cond_timedwait, 0)                      \
    X(cond_timedwait_many, 0)                 \
    /* test_chan.c */                         \
    X(chan_fifo, 0)                           \
    X(chan_many, 0)                           \
    X(chan_timeouts, 0)                       \
    X(chan_close, 0)                          \
    X(chan_ping_pong, 0)                      \
    /* test_io.c */                           \
    X(io_wait_fd, 0)                          \
    X(io_wait_after_short_read, 10)           \
    X(io_ready_fd_not_starved, 10)            \
    X(io_ready_fd_not_behind_burst, 10)       \
    X(io_user_nonblock, 0)                    \
    X(io_regular_file, 0)                     \
    X(io_close_forgets, 0)                    \
    X(io_read_write_same_fd, 0)               \
    X(io_tcp_accept_connect, 0)               \
    X(io_connect_refused, 0)                  \
    X(io_echo_10k, 120)                       \
    X(io_eventfd_parks, 0)                    \
    /* test_interpose.c */                    \
    X(interpose_read_parks, 0)                \
    X(interpose_read_outside_runtime, 0)      \
    X(interpose_pthread_beside_runtime, 0)    \
    X(interpose_errno_semantics, 0)           \
    X(interpose_sleep_family, 0)              \
    X(interpose_poll, 0)                      \
    X(interpose_fcntl_flags, 0)               \
    X(interpose_readv_writev, 0)              \
    X(interpose_recvfrom_sendto, 0)           \
    X(interpose_accept4, 0)                   \
    X(interpose_close_reuse, 0)               \
    X(interpose_write_parks, 0)               \
    X(interpose_recvmsg_sendmsg, 0)           \
    X(interpose_dup_managed_fd, 0)            \
    X(interpose_fionbio, 0)                   \
    /* test_misuse.c */                       \
    X(misuse_stack_size, 0)                   \
    X(misuse_outside_green_thread, 0)         \
    X(misuse_main_busy, 0)                    \
    X(misuse_join, 0)                         \
    X(misuse_mutex_cond, 0)                   \
    X(misuse_chan, 0)                         \
    X(misuse_location_depth, 0)               \
    X(misuse_spawn_enomem, 0)                 \
    /* test_location_walk.c */                \
    X(location_walk_stops_at_junk, 0)         \
    /* test_outside.c */                      \
    X(outside_pthread_calls, 0)               \
    /* test_registry.c */                     \
    X(registry_layout_matches_header, 0)      \
    X(registry_locations_and_edges, 0)        \
    X(registry_location_depth, 0)             \
    X(registry_states_and_counters, 0)       \
    X(registry_run_time_of_exited, 0)         \
    X(registry_list_links_in_seq, 0)          \
    X(registry_idle_since, 0)                 \
    X(registry_fresh_flag, 0)                 \
    X(registry_fatal_ns, 0)                   \
    X(registry_counts_agree, 0)               \
    X(registry_mutex_owner_and_hold, 0)       \
    X(registry_run_start, 0)                  \
    X(registry_wait_ends_when_run, 0)         \
    /* test_clock.c */                        \
    X(clock_agrees_with_monotonic, 0)         \
    /* test_watchdog.c */                     \
    X(watchdog_samples_spinner, 0)            \
    X(watchdog_no_hog_no_sample, 0)           \
    X(watchdog_blocking_read_not_interrupted, 0) \
    X(watchdog_nanosleep_not_interrupted, 0)  \
    X(watchdog_signal_restarts_read, 0)       \
    X(watchdog_off_no_thread, 0)              \
    X(watchdog_thread_lives_with_gt_main, 0)  \
    X(watchdog_fork_child_has_none, 0)       \
    /* test_fork.c */                         \
    X(fork_child_keeps_caller, 0)             \
    X(fork_beside_runtime, 0)                 \
    /* test_multiplex.c */                    \
    X(multiplex_epoll_wait_parks, 0)          \
    X(multiplex_select_high_fds, 0)           \
    X(multiplex_ppoll, 0)                     \
    /* test_blocking.c */                     \
    X(blocking_sendfile_parks, 0)             \
    X(blocking_fifo_open, 0)                  \
    X(blocking_locks_park, 0)                 \
    X(blocking_recvmsg_waitall, 0)            \
    X(blocking_clock_nanosleep, 0)            \
    X(blocking_msg_dontwait, 0)               \
    /* test_fortify.c */                      \
    X(fortify_calls_park, 0)

#endif /* GT_TEST_LIST_H */
