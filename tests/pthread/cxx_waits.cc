/*
 * cxx_waits.cc - C++20's waits that call futex(2) themselves, from code
 * libstdc++ inlines into the program (syscall(SYS_futex, ...)), not
 * through pthreads: std::atomic<T>::wait/notify, counting_semaphore with
 * and without a timeout, latch, barrier.  On gt, a thread that waits must
 * park, not stop the one kernel thread that its waker needs.
 */
#include <atomic>
#include <barrier>
#include <chrono>
#include <latch>
#include <semaphore>
#include <thread>
#include <vector>

#include "pt_check.h"

using namespace std::chrono_literals;

static void atomics()
{
    std::atomic<int> word{0};
    std::atomic<int> seen{-1};
    std::thread waiter([&] {
        word.wait(0); /* returns once word is no longer 0 */
        seen = word.load();
    });
    std::this_thread::sleep_for(20ms);
    CHECK_EQ(seen.load(), -1); /* still waiting */
    word = 7;
    word.notify_one();
    waiter.join();
    CHECK_EQ(seen.load(), 7);

    /* notify_all reaches every waiter. */
    std::atomic<int> gate{0}, through{0};
    std::vector<std::thread> many;
    for (int i = 0; i < 8; i++)
        many.emplace_back([&] {
            gate.wait(0);
            through++;
        });
    std::this_thread::sleep_for(20ms);
    CHECK_EQ(through.load(), 0);
    gate = 1;
    gate.notify_all();
    for (auto &t : many)
        t.join();
    CHECK_EQ(through.load(), 8);
    OK("atomic wait/notify");
}

static void semaphores()
{
    std::counting_semaphore<8> sem{0};
    /* A timed acquire with nothing to take times out. */
    auto t0 = std::chrono::steady_clock::now();
    CHECK(!sem.try_acquire_for(30ms));
    CHECK(std::chrono::steady_clock::now() - t0 >= 30ms);

    std::atomic<int> got{0};
    std::vector<std::thread> takers;
    for (int i = 0; i < 4; i++)
        takers.emplace_back([&] {
            sem.acquire();
            got++;
        });
    std::this_thread::sleep_for(20ms);
    CHECK_EQ(got.load(), 0);
    sem.release(3);
    /* Three take a unit (however slowly a loaded machine runs them), and
     * the fourth does not. */
    for (int i = 0; i < 10000 && got.load() < 3; i++)
        std::this_thread::sleep_for(1ms);
    CHECK_EQ(got.load(), 3);
    std::this_thread::sleep_for(20ms);
    CHECK_EQ(got.load(), 3);
    sem.release();
    for (auto &t : takers)
        t.join();
    CHECK_EQ(got.load(), 4);
    OK("counting_semaphore");
}

static void latch_and_barrier()
{
    std::latch done{4};
    std::atomic<int> after{0};
    std::vector<std::thread> ts;
    for (int i = 0; i < 4; i++)
        ts.emplace_back([&] {
            done.arrive_and_wait();
            after++;
        });
    for (auto &t : ts)
        t.join();
    CHECK_EQ(after.load(), 4);
    OK("latch");

    /* Three phases of four threads: nobody starts a phase before all
     * have finished the one before. */
    std::atomic<int> phase_count[3] = {};
    std::barrier sync{4};
    ts.clear();
    for (int i = 0; i < 4; i++)
        ts.emplace_back([&] {
            for (int p = 0; p < 3; p++) {
                phase_count[p]++;
                sync.arrive_and_wait();
                CHECK_EQ(phase_count[p].load(), 4);
            }
        });
    for (auto &t : ts)
        t.join();
    OK("barrier");
}

int main()
{
    atomics();
    semaphores();
    latch_and_barrier();
    return 0;
}
