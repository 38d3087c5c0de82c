;; weak-cache: weak references and a cache that forgets values nobody else holds.
;; (make-weak x) refers to x without keeping it alive; (weak-ref w) is x, or #f once collected.
;; A weak hash table keeps its values weakly: an entry disappears when its value is collected.
;; Which unreferenced objects a conservative collector frees depends on stale words on the C stack,
;; so this program prints facts that hold whatever it finds, not exact counts.
(define (say . items) (for-each display items) (newline))

(define kept (list "kept" 1 2 3))
(define w-kept (make-weak kept))
(define w-number (make-weak 42))          ; immediates are never collected

;; 100 weak references to lists that only the weak references point at.
(define (make-dropped-refs n)
  (let loop ((i 0) (refs '()))
    (if (= i n) refs (loop (+ i 1) (cons (make-weak (list 'dropped i)) refs)))))
(define dropped-refs (make-dropped-refs 100))

(gc-collect)
(say "held object survives: " (eq? (weak-ref w-kept) kept))
(say "immediate survives: " (weak-ref w-number))
(say "some dropped objects were collected: "
     (> (length (filter (lambda (w) (not (weak-ref w))) dropped-refs)) 0))
(say "survivors are intact: "
     (let check ((refs dropped-refs))
       (cond ((null? refs) #t)
             ((and (weak-ref (car refs)) (not (eq? (car (weak-ref (car refs))) 'dropped))) #f)
             (else (check (cdr refs))))))

;; A memo cache of expensive results, holding them weakly.
(define cache (make-weak-hash-table))
(define computed 0)
(define (expensive-square n)
  (or (hash-table-ref cache n)
      (let ((result (list 'square (* n n))))
        (set! computed (+ computed 1))
        (hash-table-set! cache n result)
        result)))

(define in-use '())
(define (fill-cache)
  (let loop ((i 0))
    (when (< i 200)
      (let ((r (expensive-square i)))
        (when (= 0 (remainder i 10)) (set! in-use (cons r in-use))))
      (loop (+ i 1)))))
;; Filled and counted with automatic collection off, so every entry is still there when counted:
;; a collection in between (an incremental cycle starts long before the heap is full) would
;; already have forgotten some.
(gc-disable)
(fill-cache)
(say "cached entries: " (hash-table-count cache) ", computed " computed)
(gc-enable)
(say "cache hit returns the same object: " (eq? (expensive-square 50) (car (filter (lambda (r) (= (cadr r) 2500)) in-use))))
(gc-collect)
(define remaining (hash-table-count cache))
(say "entries still in use survive: "
     (let check ((i 0))
       (cond ((= i 200) #t)
             ((and (= 0 (remainder i 10)) (not (hash-table-contains? cache i))) #f)
             (else (check (+ i 1))))))
(say "the cache forgot collected values: " (and (< remaining 200) (>= remaining 20)))
(say "recomputing a forgotten value works: " (equal? (expensive-square 199) '(square 39601)))
(say "heap consistent: " (heap-verify))
